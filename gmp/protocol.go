package gmp

// validNodeName checks GMP.md's rule: 1–64 characters of A–Z a–z 0–9 . _ -,
// beginning with a letter or digit.
func validNodeName(s string) bool {
	if len(s) < 1 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case (c == '.' || c == '_' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

// validNodeID checks GMP.md's rule: 1–128 printable ASCII characters
// (0x20 space through 0x7E tilde).
func validNodeID(s string) bool {
	if len(s) < 1 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// validPort checks 1–65535.
func validPort(p int64) bool { return p >= 1 && p <= 65535 }

// validHash checks a digest as GMP writes it: "sha256:" and 64 lower-case
// hex digits (the form of `have`).
func validHash(s string) bool {
	const prefix = "sha256:"
	if len(s) != len(prefix)+64 || s[:len(prefix)] != prefix {
		return false
	}
	for i := len(prefix); i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
