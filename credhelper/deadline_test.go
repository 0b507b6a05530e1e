package credhelper

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestLazyDeadline(t *testing.T) {
	t.Run("reports its deadline and is live before it", func(t *testing.T) {
		d := time.Now().Add(time.Hour)
		ctx, cancel := withLazyDeadline(context.Background(), d)
		defer cancel()
		if got, ok := ctx.Deadline(); !ok || !got.Equal(d) {
			t.Fatalf("Deadline() = %v, %v; want %v, true", got, ok, d)
		}
		if err := ctx.Err(); err != nil {
			t.Fatalf("Err() = %v before the deadline", err)
		}
	})
	t.Run("Done closes at the deadline", func(t *testing.T) {
		ctx, cancel := withLazyDeadline(context.Background(), time.Now().Add(20*time.Millisecond))
		defer cancel()
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("Done did not close after the deadline")
		}
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Fatalf("Err() = %v, want DeadlineExceeded", ctx.Err())
		}
	})
	t.Run("Err without Done after the deadline", func(t *testing.T) {
		ctx, cancel := withLazyDeadline(context.Background(), time.Now().Add(-time.Second))
		defer cancel()
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Fatalf("Err() = %v, want DeadlineExceeded", ctx.Err())
		}
	})
	t.Run("a derived context inherits the bound", func(t *testing.T) {
		ctx, cancel := withLazyDeadline(context.Background(), time.Now().Add(20*time.Millisecond))
		defer cancel()
		child, stop := context.WithTimeout(ctx, time.Hour)
		defer stop()
		select {
		case <-child.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("the child outlived its parent's deadline")
		}
	})
	t.Run("the parent's cancellation passes through", func(t *testing.T) {
		parent, cancelParent := context.WithCancel(context.Background())
		ctx, cancel := withLazyDeadline(parent, time.Now().Add(time.Hour))
		defer cancel()
		cancelParent()
		if !errors.Is(ctx.Err(), context.Canceled) {
			t.Fatalf("Err() = %v, want Canceled", ctx.Err())
		}
		<-ctx.Done()
	})
	t.Run("an earlier parent deadline wins", func(t *testing.T) {
		pd := time.Now().Add(time.Minute)
		parent, cancelParent := context.WithDeadline(context.Background(), pd)
		defer cancelParent()
		ctx, cancel := withLazyDeadline(parent, pd.Add(time.Hour))
		defer cancel()
		if got, _ := ctx.Deadline(); !got.Equal(pd) {
			t.Fatalf("Deadline() = %v, want the parent's %v", got, pd)
		}
	})
	t.Run("cancel ends it, armed or not", func(t *testing.T) {
		for _, armFirst := range []bool{false, true} {
			ctx, cancel := withLazyDeadline(context.Background(), time.Now().Add(time.Hour))
			if armFirst {
				_ = ctx.Done()
			}
			cancel()
			<-ctx.Done()
			if !errors.Is(ctx.Err(), context.Canceled) {
				t.Fatalf("armed first %v: Err() = %v after cancel, want Canceled", armFirst, ctx.Err())
			}
		}
	})
}
