package main

import (
	"fmt"

	"github.com/zwamp/zwamp/core"
)

// reloadURIMetrics is the SIGHUP reloader of admin.uri_metrics: the new
// list is checked first and installed by the commit; patterns kept from
// the old list keep their counts.
func reloadURIMetrics(c *Config) (func(), error) {
	var list []core.URIPattern
	if c.Admin != nil && !c.Admin.Disabled {
		list = c.Admin.URIMetrics
	}
	set, err := core.CompileURICounters(list)
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	return func() { core.UseURICounters(set) }, nil
}

var _ reloader = reloadURIMetrics
