package ocitest

import (
	"net/http"
	"testing"
)

func TestNewServesV2AndStops(t *testing.T) {
	r := New(t)
	resp, err := http.Get(r.URL + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/v2/: %d", resp.StatusCode)
	}
	r.Stop()
	r.Stop() // idempotent
	if _, err := http.Get(r.URL + "/v2/"); err == nil {
		t.Fatal("registry still answers after Stop")
	}
}

func TestStartBinaryServesV2AndStops(t *testing.T) {
	r := StartBinary(t)
	resp, err := http.Get(r.URL + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/v2/: %d", resp.StatusCode)
	}
	r.Stop()
	if _, err := http.Get(r.URL + "/v2/"); err == nil {
		t.Fatal("registry binary still answers after Stop")
	}
}
