package worker

import (
	"regexp"
	"strconv"
	"strings"
)

// Placeholders fill a Rescale command template.
type Placeholders struct {
	Cores int // cores per node (slots × coresPerSlot on one node)
	Nodes int // nodes; 0 is 1
	// InputFiles are the job's input file names in order: <input-file> and
	// <input-filename> are the first, <input-filename-2> the second, …
	InputFiles []string
	// Extra fills any other <name> (e.g. "job", "precision"), overriding
	// the ones above.
	Extra map[string]string
}

var placeholderRE = regexp.MustCompile(`<([a-z][a-z0-9-]*)>`)

// ExpandCommand fills the placeholders Rescale's analysis command templates
// use: <mpi-ranks> (every core of every node: one MPI rank each),
// <smp-ranks> (the cores of one node: threads of a shared-memory run),
// <cores> (the same as <mpi-ranks>), <nodes>, <input-file>,
// <input-filename>, <input-filename-N>, and Extra. A placeholder with no
// value (<job>, which the user was meant to replace, or an input the job
// lacks) is left as written, so the command fails visibly rather than
// running with an empty argument. Values are not expanded again; file
// names are shell-quoted when they need it.
func ExpandCommand(cmd string, h Placeholders) string {
	nodes := h.Nodes
	if nodes <= 0 {
		nodes = 1
	}
	values := map[string]string{}
	if h.Cores > 0 {
		values["mpi-ranks"] = strconv.Itoa(h.Cores * nodes)
		values["cores"] = values["mpi-ranks"]
		values["smp-ranks"] = strconv.Itoa(h.Cores)
	}
	values["nodes"] = strconv.Itoa(nodes)
	for i, f := range h.InputFiles {
		q := quoteIfNeeded(f)
		if i == 0 {
			values["input-file"], values["input-filename"] = q, q
		}
		values["input-filename-"+strconv.Itoa(i+1)] = q
		values["input-file-"+strconv.Itoa(i+1)] = q
	}
	for k, v := range h.Extra {
		values[k] = v
	}
	return placeholderRE.ReplaceAllStringFunc(cmd, func(m string) string {
		if v, ok := values[m[1:len(m)-1]]; ok {
			return v
		}
		return m
	})
}

// quoteIfNeeded shell-quotes s unless it consists only of characters no
// shell treats specially.
func quoteIfNeeded(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-+/=:,@%") == "" {
		return s
	}
	return shellQuote(s)
}
