package control

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/ghost-network/gpmd/cmd/control/api"
	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/migrations"
	"github.com/ghost-network/gpmd/repo"
)

// TestAPIMatchesServerJSON: the api types the client decodes into are
// the JSON of the server's own values (and of the engine's reports), field
// for field: each server value, every field set, is encoded, decoded into
// its api type and encoded again, and the two JSON documents must be the
// same. A field added to one side only fails here.
func TestAPIMatchesServerJSON(t *testing.T) {
	for _, c := range []struct {
		name   string
		server any
		api    any
	}{
		{"index.Record", &index.Record{}, &api.Record{}},
		{"repo.VerifyReport", &repo.VerifyReport{}, &api.VerifyReport{}},
		{"repo.GCReport", &repo.GCReport{}, &api.GCReport{}},
		{"repo.BackupReport", &repo.BackupReport{}, &api.BackupReport{}},
		{"repo.RestoreReport", &repo.RestoreReport{}, &api.RestoreReport{}},
		{"migrations.ImportReport", &migrations.ImportReport{}, &api.ImportReport{}},
	} {
		fill(reflect.ValueOf(c.server).Elem())
		want, err := json.Marshal(c.server)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(want, c.api); err != nil {
			t.Fatalf("%s into %T: %v", c.name, c.api, err)
		}
		got, _ := json.Marshal(c.api)
		var w, g any
		json.Unmarshal(want, &w)
		json.Unmarshal(got, &g)
		if !reflect.DeepEqual(w, g) {
			t.Errorf("%s: the server writes %s, %T reads it back as %s", c.name, want, c.api, got)
		}
	}
}

// fill sets every field of v, recursively, to a value that is not zero.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("sha256:" + v.Type().Name())
	case reflect.Int, reflect.Int64, reflect.Int32:
		if v.Type() == reflect.TypeOf(time.Duration(0)) {
			v.SetInt(int64(time.Second))
			return
		}
		v.SetInt(7)
	case reflect.Uint64, reflect.Uint32:
		v.SetUint(7)
	case reflect.Float64:
		v.SetFloat(1.5)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem())
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0))
		v.Set(s)
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			v.Set(reflect.ValueOf(time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	}
}
