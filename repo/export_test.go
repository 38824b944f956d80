package repo

// SetNoParse turns the structural parse of uploads off: the benchmark's
// baseline, and tests of stores from before uploads were parsed.
func SetNoParse(r *Repo, off bool) { r.noParse = off }

// IndexAddCommits is how many index transactions uploads have committed.
func IndexAddCommits(r *Repo) uint64 { return r.idx.AddCommits() }
