package wire

import "time"

// NodeInfo is one live registration, as the control API lists it (GET
// /v1/nodes) and the command line prints it.
type NodeInfo struct {
	Name         string    `json:"name"`
	ID           string    `json:"id"`
	Address      string    `json:"address"`
	Port         int       `json:"port"`
	Discoverable bool      `json:"discoverable"`
	Since        time.Time `json:"since"`
}
