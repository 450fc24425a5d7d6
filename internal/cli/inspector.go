package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/template"

	"github.com/berth-project/berth/internal/cli/format"
)

// inspected is one object found by an inspect command: the typed value
// templates run against, and the daemon's own JSON, printed as it came
// (so fields newer than our API types survive) and used when a template
// names something the typed value lacks.
type inspected struct {
	typed any
	raw   []byte
}

type lookupFunc func(ref string) (inspected, error)

// inspectAll prints the objects refs name the way docker inspect does: an
// indented JSON array by default, compact JSON for "json", else a template
// line per object. Lookup errors are collected and end the command with
// exit status 1 after whatever was found has been printed.
func inspectAll(out io.Writer, refs []string, tmplText string, lookup lookupFunc) error {
	var tmpl *template.Template
	if tmplText != "" && tmplText != format.JSON {
		var err error
		if tmpl, err = format.Parse(tmplText); err != nil {
			return StatusError{Status: "template parsing error: " + err.Error(), Code: 64}
		}
	}
	var (
		errs  []error
		raws  [][]byte
		lines bytes.Buffer
	)
	for _, ref := range refs {
		obj, err := lookup(ref)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if tmpl == nil {
			raws = append(raws, obj.raw)
			continue
		}
		if err := executeInspect(&lines, tmpl, obj); err != nil {
			errs = append(errs, err)
		}
	}
	if tmpl != nil {
		if lines.Len() == 0 {
			lines.WriteByte('\n')
		}
		lines.WriteTo(out)
	} else if err := writeJSONArray(out, raws, tmplText == format.JSON); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return StatusError{Status: err.Error(), Code: 1, Cause: err}
	}
	return nil
}

func executeInspect(w *bytes.Buffer, tmpl *template.Template, obj inspected) error {
	var buf bytes.Buffer
	err := tmpl.Execute(&buf, obj.typed)
	// Our API types hold addresses as netip.Addr, which prints an unset
	// address as "invalid IP" where docker prints nothing: the daemon's
	// JSON has the empty string, so let it answer.
	if err == nil && (obj.raw == nil || !bytes.Contains(buf.Bytes(), []byte("invalid IP"))) {
		w.Write(buf.Bytes())
		w.WriteByte('\n')
		return nil
	} else if obj.raw == nil {
		return fmt.Errorf("template parsing error: %w", err)
	}
	// The typed value could not answer (a field our types do not have, a
	// nil pointer): try the daemon's JSON, where a missing key is an error.
	var generic any
	dec := json.NewDecoder(bytes.NewReader(obj.raw))
	dec.UseNumber()
	if err := dec.Decode(&generic); err != nil {
		return fmt.Errorf("unable to read inspect data: %w", err)
	}
	buf.Reset()
	if err := tmpl.Option("missingkey=error").Execute(&buf, generic); err != nil {
		return fmt.Errorf("template parsing error: %w", err)
	}
	w.Write(buf.Bytes())
	w.WriteByte('\n')
	return nil
}

func writeJSONArray(out io.Writer, raws [][]byte, compact bool) error {
	if len(raws) == 0 {
		_, err := io.WriteString(out, "[]\n")
		return err
	}
	var arr bytes.Buffer
	arr.WriteByte('[')
	for i, r := range raws {
		if i > 0 {
			arr.WriteByte(',')
		}
		arr.Write(r)
	}
	arr.WriteByte(']')
	var pretty bytes.Buffer
	var err error
	if compact {
		err = json.Compact(&pretty, arr.Bytes())
	} else {
		err = json.Indent(&pretty, arr.Bytes(), "", "    ")
	}
	if err != nil {
		return err
	}
	pretty.WriteByte('\n')
	_, err = pretty.WriteTo(out)
	return err
}
