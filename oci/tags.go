package oci

import (
	"context"
	"fmt"
	"slices"

	"github.com/Masterminds/semver/v3"
)

// Tag is a registry tag that is a semantic version.
type Tag struct {
	Name    string
	Version *semver.Version
}

// Tags lists the tags of repository (REGISTRY/REPOSITORY) that are
// semantic versions, highest first; other tags ("latest", "main") are left
// out. A repository that does not exist wraps ErrNotFound.
func (c *Client) Tags(ctx context.Context, repository string) ([]Tag, error) {
	ref, err := parseRef(repository)
	if err != nil {
		return nil, fmt.Errorf("tags: %w", err)
	}
	ref.Reference = ""
	var tags []Tag
	err = c.repository(ref).Tags(ctx, "", func(page []string) error {
		for _, t := range page {
			if validVersion(t) == nil {
				v, err := semver.NewVersion(t)
				if err == nil {
					tags = append(tags, Tag{Name: t, Version: v})
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, classify("tags", ref.String(), err)
	}
	slices.SortStableFunc(tags, func(a, b Tag) int { return b.Version.Compare(a.Version) })
	return tags, nil
}
