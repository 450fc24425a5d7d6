package cli

import (
	"bufio"
	"fmt"
	"strings"
)

// confirm asks the user a yes/no question on stdin, docker's way: only
// "y" or "Y" is yes.
func (a *app) confirm(message string) bool {
	fmt.Fprint(a.streams.Out, message+" [y/N] ")
	sc := bufio.NewScanner(a.streams.In)
	if !sc.Scan() {
		return false
	}
	return strings.EqualFold(strings.TrimSpace(sc.Text()), "y")
}
