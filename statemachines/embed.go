// Package statemachines holds the Amazon States Language definitions of the
// platform, embedded so Go code runs the very files Step Functions runs.
package statemachines

import _ "embed"

// Job is job.asl.json: one job's lifecycle, with ${...} placeholders for
// the step functions (see asl.Placeholders).
//
//go:embed job.asl.json
var Job []byte
