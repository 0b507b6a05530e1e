package credhelper

import "runtime/debug"

// HelperName is the program name docker derives from "credsStore": "keyport".
const HelperName = "docker-credential-keyport"

// ModulePath identifies the project in `version` output.
const ModulePath = "github.com/keyport/keyport"

// Version is set at link time: -ldflags "-X github.com/keyport/keyport/credhelper.Version=v1.2.3".
var Version = ""

// VersionString is Version, else the module version from build info.
func VersionString() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "devel"
}
