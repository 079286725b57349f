package launch

// Check is one protection and whether it is active.
type Check struct {
	Name   string `json:"name"`
	Active bool   `json:"active"`
	Detail string `json:"detail,omitempty"`
}

// ProbeReport is what a probe spoke (Frame.Probe) writes on fd 3, as one
// JSON line: what it applied and verified from inside, or why it failed.
type ProbeReport struct {
	Checks []Check `json:"checks"`
	Error  string  `json:"error,omitempty"`
}
