package ws

import "strconv"

// CloseError is a violation of RFC 6455 found in the peer's frames. Code is
// the close code to send before closing the connection: 1002 (protocol
// error), 1007 (invalid payload data) or 1009 (message too big).
type CloseError struct {
	Code   int
	Reason string
}

// Error describes the violation and the close code it earns.
func (e *CloseError) Error() string {
	return "websocket: " + e.Reason + " (close " + strconv.Itoa(e.Code) + ")"
}

// Violations are built only when they happen: a connection sees at most one,
// and a precise reason is worth more there than the allocation.
func protocolError(reason string) *CloseError {
	return &CloseError{Code: CloseProtocolError, Reason: reason}
}

func invalidPayload(reason string) *CloseError {
	return &CloseError{Code: CloseInvalidPayload, Reason: reason}
}

func tooBig(declared uint64, max int) *CloseError {
	return &CloseError{Code: CloseMessageTooBig, Reason: "message of " +
		strconv.FormatUint(declared, 10) + " bytes exceeds the limit of " + strconv.Itoa(max)}
}
