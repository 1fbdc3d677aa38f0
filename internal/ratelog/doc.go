// Package ratelog bounds repeated log lines of one kind: the first
// occurrence is logged in full, later ones within the interval are only
// counted, and one summary line per interval reports how many there were.
// An attack that makes the router warn a million times (refused
// connections at the open-files limit, slow consumers, protocol violations
// from many peers, failed authentications) then costs a handful of lines
// instead of a log that becomes the bottleneck and buries the line that
// matters.
//
// A Logger is safe for concurrent use; each call takes one short mutex
// and, when the line is suppressed, does not format anything. It imports
// nothing of zwamp's, so any package may use it.
package ratelog
