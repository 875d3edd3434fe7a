package main

import (
	"slices"
	"testing"

	"github.com/openrescale/platform/infra/stack"
)

func TestComputeProps(t *testing.T) {
	cases := []struct {
		name      string
		ctx       map[string]string
		coretypes []string
		spot      []string
		maxNodes  int
		private   bool
		bad       bool
	}{
		{name: "defaults", coretypes: stack.DefaultCoretypes},
		{name: "chosen", ctx: map[string]string{"coretypes": "hpc-3, emerald", "spotCoretypes": "emerald", "maxNodes": "8"}, coretypes: []string{"hpc-3", "emerald"}, spot: []string{"emerald"}, maxNodes: 8},
		{name: "private", ctx: map[string]string{"vpcId": "vpc-1", "privateSubnets": "true"}, coretypes: stack.DefaultCoretypes, private: true},
		{name: "unknown coretype", ctx: map[string]string{"coretypes": "emerald,nope"}, bad: true},
		{name: "bad maxNodes", ctx: map[string]string{"maxNodes": "0"}, bad: true},
		{name: "maxNodes not a number", ctx: map[string]string{"maxNodes": "four"}, bad: true},
	}
	for _, c := range cases {
		p, err := computeProps(func(k string) string { return c.ctx[k] })
		if c.bad {
			if err == nil {
				t.Errorf("%s: accepted", c.name)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		var codes []string
		for _, ct := range p.Coretypes {
			codes = append(codes, ct.Code)
			if ct.Deployment == nil {
				t.Errorf("%s: coretype %s without its deployment", c.name, ct.Code)
			}
		}
		var spot []string
		for code, on := range p.Spot {
			if on {
				spot = append(spot, code)
			}
		}
		slices.Sort(spot)
		if !slices.Equal(codes, c.coretypes) || !slices.Equal(spot, c.spot) || p.MaxNodes != c.maxNodes || p.PrivateSubnets != c.private || p.ConsoleDir == "" {
			t.Errorf("%s: coretypes %v spot %v maxNodes %d private %v console %q", c.name, codes, spot, p.MaxNodes, p.PrivateSubnets, p.ConsoleDir)
		}
	}
}
