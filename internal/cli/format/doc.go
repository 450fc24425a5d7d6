// Package format renders the CLI's output the way the docker CLI does:
// --format Go templates with docker's template functions, the "table"
// prefix that adds a header row and aligns columns, "json" for one JSON
// object per line, and the small display rules (12-character IDs, "…"
// truncation) that scripts written against docker rely on.
//
// A row is any value whose exported methods or fields the template names.
// For a table header the same template runs against a Header (a map from
// field name to column title), so "table {{.ID}}\t{{.Image}}" prints
// "CONTAINER ID   IMAGE" without a separate header format.
package format
