package wire

// The naming rules of GMP.md, once: the server checks REGISTER against
// them, and the fleet checks every entry other devices wrote (package
// fleet), so that what one GPMD accepts is what every other one serves.

// ValidNodeName checks GMP.md's rule for node and device names: 1–64
// characters of A–Z a–z 0–9 . _ -, beginning with a letter or digit.
func ValidNodeName(s string) bool {
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

// ValidNodeID checks GMP.md's rule for a node's id: 1–128 printable ASCII
// characters (0x20 space through 0x7E tilde).
func ValidNodeID(s string) bool {
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

// ValidPort checks a node's port: 1–65535.
func ValidPort(p int64) bool { return p >= 1 && p <= 65535 }
