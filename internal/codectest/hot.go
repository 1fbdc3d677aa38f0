package codectest

// HotMessage is a message as plain Go values, like Case.Value.
type HotMessage struct {
	Name  string
	Value []any
}

// HotMessages are the six messages on the router's per-event and per-call
// path, in the shape clients send them, for the binary codecs' allocation
// tests and benchmarks. PUBLISH, the spec's example, is the headline.
var HotMessages = []HotMessage{
	{"PUBLISH", []any{16, 239714735, dict{}, "com.myapp.topic1", []any{"Hello, world!"}, dict{"color": "orange"}}},
	{"EVENT", []any{36, 5512315355, 4429313566, dict{}, []any{"Hello, world!"}, dict{"color": "orange"}}},
	{"CALL", []any{48, 7814135, dict{}, "com.myapp.user.new", []any{"johnny"}, dict{"firstname": "John", "surname": "Doe"}}},
	{"INVOCATION", []any{68, 6131533, 9823529, dict{}, []any{"johnny"}, dict{"firstname": "John", "surname": "Doe"}}},
	{"YIELD", []any{70, 6131533, dict{}, []any{"Hello, world!"}}},
	{"RESULT", []any{50, 7814135, dict{}, []any{30}, dict{"userid": 123, "karma": 10}}},
}
