package main

import (
	"strconv"

	"github.com/spf13/cobra"
)

func (m *Main) filesCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "files", Short: "Your files"}
	var (
		search string
		limit  int
	)
	ls := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List your files, newest first",
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := m.client(g)
			if err != nil {
				return err
			}
			files, total, err := c.ListFiles(cmd.Context(), search, limit)
			if err != nil {
				return err
			}
			if g.json {
				return printJSON(m.Stdout, files)
			}
			t := newTable(m.Stdout, "ID", "NAME", "SIZE", "UPLOADED", "TYPE")
			for _, f := range files {
				t.row(f.ID, f.Name, humanSize(f.Size), shortTime(f.DateUploaded), strconv.Itoa(f.TypeID))
			}
			if err := t.flush(); err != nil {
				return err
			}
			if len(files) < total {
				m.note(g, "%d of %d files (--limit 0 lists all)", len(files), total)
			}
			return nil
		},
	}
	ls.Flags().StringVarP(&search, "search", "s", "", "only files whose name contains this")
	ls.Flags().IntVar(&limit, "limit", 50, "at most this many files (0: all)")
	cmd.AddCommand(ls)
	return cmd
}
