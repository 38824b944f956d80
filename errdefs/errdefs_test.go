package errdefs

import (
	"errors"
	"fmt"
	"testing"
)

func TestClassesAreDistinctAndSurviveWrapping(t *testing.T) {
	preds := []func(error) bool{IsNotFound, IsExists, IsConflict, IsInvalid, IsCorrupt,
		IsTooLarge, IsNoSpace, IsUnavailable, IsUnauthorized}
	classes := Classes()
	if len(preds) != len(classes) {
		t.Fatalf("%d predicates for %d classes", len(preds), len(classes))
	}
	for i, class := range classes {
		wrapped := fmt.Errorf("module math@v1.0.0: %w", fmt.Errorf("layer: %w", class))
		for j, is := range preds {
			if got, want := is(wrapped), i == j; got != want {
				t.Errorf("predicate %d on class %q wrapped: %v, want %v", j, class, got, want)
			}
		}
		if !errors.Is(wrapped, class) {
			t.Errorf("errors.Is lost class %q through wrapping", class)
		}
	}
}

func TestNarrowBelongsToItsClassOnly(t *testing.T) {
	notWasm := Narrow("not WebAssembly", ErrInvalid)
	err := fmt.Errorf("upload math@1.0.0: %w", notWasm)
	if !errors.Is(err, notWasm) || !IsInvalid(err) {
		t.Fatalf("%v: lost its sentinel or its class", err)
	}
	if IsNotFound(err) || errors.Is(err, Narrow("not WebAssembly", ErrInvalid)) {
		t.Fatalf("%v: matched another class or another sentinel of the same text", err)
	}
	if notWasm.Error() != "not WebAssembly" {
		t.Fatalf("message %q", notWasm.Error())
	}
}
