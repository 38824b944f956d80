package control

import "testing"

// TestHostAllowed: the origin guard's rule, case by case.
func TestHostAllowed(t *testing.T) {
	cases := []struct {
		addr, token, host string
		want              bool
	}{
		{"127.0.0.1:41111", "", "127.0.0.1:41111", true},
		{"127.0.0.1:41111", "", "localhost:41111", true},
		{"127.0.0.1:41111", "", "LOCALHOST:41111", true},
		{"127.0.0.1:41111", "", "127.8.9.10:41111", true},
		{"127.0.0.1:41111", "", "[::1]:41111", true},
		{"127.0.0.1:41111", "", "127.0.0.1:2222", false},
		{"127.0.0.1:41111", "", "127.0.0.1", false},
		{"127.0.0.1:80", "", "127.0.0.1", true},
		{"127.0.0.1:41111", "", "attacker.example:41111", false},
		{"127.0.0.1:41111", "", "localhost.attacker.example:41111", false},
		{"127.0.0.1:41111", "", "10.0.0.5:41111", false},
		{"127.0.0.1:41111", "tok", "attacker.example:41111", false},
		{"10.0.0.5:41111", "tok", "10.0.0.5:41111", true},
		{"10.0.0.5:41111", "tok", "10.0.0.6:41111", false},
		{"10.0.0.5:41111", "tok", "attacker.example:41111", false},
		{"0.0.0.0:41111", "tok", "10.0.0.6:41111", true},
		{"[::]:41111", "tok", "[fd00::1]:41111", true},
		{"0.0.0.0:41111", "tok", "attacker.example:41111", false},
		{"", "", "127.0.0.1:4567", true},
		{"", "", "attacker.example:4567", false},
	}
	for _, c := range cases {
		s := NewServer(Config{Addr: c.addr, Token: c.token})
		if got := s.hostAllowed(c.host); got != c.want {
			t.Errorf("addr %q token %v: Host %q allowed %v, want %v", c.addr, c.token != "", c.host, got, c.want)
		}
	}
}

// TestOriginAllowed: only the server's own http origin passes.
func TestOriginAllowed(t *testing.T) {
	s := NewServer(Config{Addr: "127.0.0.1:41111"})
	for origin, want := range map[string]bool{
		"http://127.0.0.1:41111":      true,
		"http://localhost:41111":      true,
		"https://127.0.0.1:41111":     false,
		"http://127.0.0.1:2222":       false,
		"http://attacker.example":     false,
		"null":                        false,
		"":                            false,
		"http://127.0.0.1:41111/path": false,
		"file://":                     false,
	} {
		if got := s.originAllowed(origin); got != want {
			t.Errorf("Origin %q allowed %v, want %v", origin, got, want)
		}
	}
}
