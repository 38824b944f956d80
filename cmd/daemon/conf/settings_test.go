package conf

import (
	"reflect"
	"testing"
)

// TestSettingsCoverConfig: each setting sets exactly one field of Config,
// reads back what it writes, and every field a person can set has a
// setting (a field added to Config without one fails here).
func TestSettingsCoverConfig(t *testing.T) {
	example := map[Kind]string{KindString: "127.0.0.9:7", KindInt: "7", KindSize: "3MiB", KindDuration: "7s"}
	// Strings checked as they are set take a value of their own shape.
	exampleOf := map[string]string{"device": "dev-7", "advertise": "127.0.0.9"}
	// Not settings: set by the program, not by a person.
	covered := map[string]bool{"Version": true, "LogOutput": true, "CaptureStderr": true, "Notifier": true}
	flags, envs := map[string]bool{}, map[string]bool{}
	for _, s := range Settings() {
		if s.Flag == "" || s.Env == "" || s.Usage == "" || flags[s.Flag] || envs[s.Env] {
			t.Errorf("setting %+v: a flag, variable and help of its own are required", s)
		}
		flags[s.Flag], envs[s.Env] = true, true
		before := DefaultConfig()
		after := before
		v := example[s.Kind]
		if e, ok := exampleOf[s.Flag]; ok {
			v = e
		}
		if err := s.Set(&after, v); err != nil {
			t.Fatalf("--%s %s: %v", s.Flag, v, err)
		}
		changed := changedFields(before, after)
		if len(changed) != 1 {
			t.Fatalf("--%s changed fields %v, want exactly one", s.Flag, changed)
		}
		covered[changed[0]] = true
		again := DefaultConfig()
		if err := s.Set(&again, s.Get(&after)); err != nil || !reflect.DeepEqual(again, after) {
			t.Errorf("--%s: Get %q does not read back (%v)", s.Flag, s.Get(&after), err)
		}
	}
	ct := reflect.TypeFor[Config]()
	for i := range ct.NumField() {
		if name := ct.Field(i).Name; !covered[name] {
			t.Errorf("Config.%s has no setting in Settings()", name)
		}
	}
}

func TestSettingRefusesNonPositive(t *testing.T) {
	for _, s := range Settings() {
		if s.Kind == KindString {
			continue
		}
		for _, v := range []string{"0", "-1", "lots"} {
			c := DefaultConfig()
			if err := s.Set(&c, v); err == nil {
				t.Errorf("--%s %s accepted", s.Flag, v)
			}
		}
	}
}

func changedFields(a, b Config) []string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	var out []string
	for i := range va.NumField() {
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			out = append(out, va.Type().Field(i).Name)
		}
	}
	return out
}
