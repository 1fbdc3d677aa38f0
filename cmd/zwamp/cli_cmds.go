package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/zwamp/zwamp/client"
)

var cliCommands = []*cliCommand{
	{
		name:     "pub",
		synopsis: "TOPIC [ARG...] [--kw k=v]",
		summary:  "publish an event",
		detail: "Publishes TOPIC with the arguments (each read as JSON when it is valid JSON,\n" +
			"else as a string) and --kw keyword arguments. --count and --rate repeat it;\n" +
			"--ack waits for the router's PUBLISHED for each.",
		flags: func(fs *flag.FlagSet) any {
			o := &pubFlags{kw: kwFlag{}}
			fs.Var(o.kw, "kw", "keyword argument key=value (repeatable; value read as JSON when valid)")
			fs.IntVar(&o.count, "count", 1, "number of events to publish")
			fs.Float64Var(&o.rate, "rate", 0, "events per second (0: as fast as possible)")
			fs.BoolVar(&o.ack, "ack", false, "ask the router to acknowledge each publication")
			return o
		},
		run: runPub,
	},
	{
		name:     "sub",
		synopsis: "TOPIC [--match prefix|wildcard]",
		summary:  "print events until Ctrl-C",
		detail: "Subscribes to TOPIC and prints one line per event: the topic, then the\n" +
			"arguments and keyword arguments as JSON (--json: one JSON object per line).\n" +
			"Runs until Ctrl-C, or until --count events have arrived.",
		flags: func(fs *flag.FlagSet) any {
			o := &subFlags{}
			fs.StringVar(&o.match, "match", "", "pattern match policy: prefix or wildcard (default exact)")
			fs.IntVar(&o.count, "count", 0, "exit after this many events (0: run until interrupted)")
			return o
		},
		run: runSub,
	},
	{
		name:     "call",
		synopsis: "PROC [ARG...] [--kw k=v]",
		summary:  "call a procedure, print the result",
		detail: "Calls PROC and prints the result: a single argument as JSON, or all of them\n" +
			"and the keyword arguments on one line. An ERROR from the router prints its\n" +
			"URI and arguments on stderr and exits with status 1.",
		flags: func(fs *flag.FlagSet) any {
			o := &callFlags{kw: kwFlag{}}
			fs.Var(o.kw, "kw", "keyword argument key=value (repeatable; value read as JSON when valid)")
			return o
		},
		run: runCall,
	},
	{
		name:     "register",
		synopsis: "PROC --exec CMD",
		summary:  "serve a procedure with a shell command",
		detail: "Registers PROC; each invocation runs CMD with `sh -c`, writing\n" +
			"{\"args\": [...], \"kwargs\": {...}} as JSON on its stdin. Its stdout is the\n" +
			"result (one argument, read as JSON when it is valid JSON, else as a string);\n" +
			"a non-zero exit answers ERROR wamp.error.runtime_error with its stderr.\n" +
			"Runs until Ctrl-C.",
		flags: func(fs *flag.FlagSet) any {
			o := &registerFlags{}
			fs.StringVar(&o.exec, "exec", "", "shell command run for each invocation (required)")
			fs.StringVar(&o.match, "match", "", "pattern match policy: prefix or wildcard (default exact)")
			fs.StringVar(&o.invoke, "invoke", "", "shared registration policy: single, roundrobin, random, first, last")
			return o
		},
		run: runRegister,
	},
	{
		name:     "join",
		synopsis: "",
		summary:  "join the realm, print WELCOME details",
		detail:   "Joins the realm with the given credentials and prints the session id and\nthe WELCOME details (authid, authrole, authmethod, ...): the quickest auth check.",
		flags:    func(fs *flag.FlagSet) any { return nil },
		run:      runJoin,
	},
}

type pubFlags struct {
	kw    kwFlag
	count int
	rate  float64
	ack   bool
}

func runPub(cx *cliContext, pos []string, own any) int {
	o := own.(*pubFlags)
	if len(pos) < 1 {
		return cx.usageError("pub needs a TOPIC")
	}
	if o.count < 1 || o.rate < 0 {
		return cx.usageError("--count must be ≥ 1 and --rate ≥ 0")
	}
	c, err := cx.connect()
	if err != nil {
		return cx.fail(err)
	}
	defer c.Close()
	topic, args := pos[0], parseArgs(pos[1:])
	var opts *client.PublishOptions
	if o.ack {
		opts = &client.PublishOptions{Acknowledge: true}
	}
	var tick *time.Ticker
	if o.rate > 0 {
		tick = time.NewTicker(time.Duration(float64(time.Second) / o.rate))
		defer tick.Stop()
	}
	start := time.Now()
	for i := 0; i < o.count; i++ {
		if tick != nil && i > 0 {
			<-tick.C
		}
		if err := c.Publish(topic, args, o.kw.orNil(), opts); err != nil {
			return cx.fail(err)
		}
	}
	elapsed := time.Since(start)
	if cx.opts.json {
		cx.printJSON(cx.stdout, map[string]any{"topic": topic, "published": o.count, "seconds": elapsed.Seconds()})
	} else {
		fmt.Fprintf(cx.stdout, "published %d event(s) to %s in %v\n", o.count, topic, elapsed.Round(time.Microsecond))
	}
	return 0
}

type subFlags struct {
	match string
	count int
}

func runSub(cx *cliContext, pos []string, own any) int {
	o := own.(*subFlags)
	if len(pos) != 1 {
		return cx.usageError("sub needs exactly one TOPIC")
	}
	c, err := cx.connect()
	if err != nil {
		return cx.fail(err)
	}
	defer c.Close()
	events := make(chan *client.Event, 64)
	_, err = c.Subscribe(pos[0], func(ev *client.Event) { events <- ev }, &client.SubscribeOptions{Match: o.match})
	if err != nil {
		return cx.fail(err)
	}
	if cx.opts.json {
		cx.printJSON(cx.stderr, map[string]any{"subscribed": pos[0], "match": o.match})
	} else {
		fmt.Fprintf(cx.stderr, "subscribed to %s; Ctrl-C to stop\n", pos[0])
	}
	stop := interrupted()
	for n := 0; o.count == 0 || n < o.count; n++ {
		select {
		case ev := <-events:
			cx.printEvent(ev, pos[0])
		case <-stop:
			return 0
		case <-c.Done():
			return cx.fail(fmt.Errorf("session ended: %v", c.Err()))
		}
	}
	return 0
}

func (cx *cliContext) printEvent(ev *client.Event, subscribed string) {
	topic := ev.Topic
	if topic == "" {
		topic = subscribed // exact subscriptions carry no topic in details
	}
	if cx.opts.json {
		cx.printJSON(cx.stdout, map[string]any{
			"topic": topic, "publication": ev.Publication, "args": orEmpty(ev.Args),
			"kwargs": orEmptyMap(ev.Kwargs), "details": orEmptyMap(ev.Details),
		})
		return
	}
	fmt.Fprintf(cx.stdout, "%s %s\n", topic, payloadText(ev.Args, ev.Kwargs))
}

type callFlags struct{ kw kwFlag }

func runCall(cx *cliContext, pos []string, own any) int {
	o := own.(*callFlags)
	if len(pos) < 1 {
		return cx.usageError("call needs a PROC")
	}
	c, err := cx.connect()
	if err != nil {
		return cx.fail(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), cx.opts.timeout)
	defer cancel()
	res, err := c.Call(ctx, pos[0], parseArgs(pos[1:]), o.kw.orNil(), nil)
	if err != nil {
		return cx.fail(err)
	}
	switch {
	case cx.opts.json:
		cx.printJSON(cx.stdout, map[string]any{"args": orEmpty(res.Args), "kwargs": orEmptyMap(res.Kwargs)})
	case len(res.Args) == 1 && len(res.Kwargs) == 0:
		fmt.Fprintln(cx.stdout, jsonText(res.Args[0]))
	default:
		fmt.Fprintln(cx.stdout, payloadText(res.Args, res.Kwargs))
	}
	return 0
}

type registerFlags struct{ exec, match, invoke string }

func runRegister(cx *cliContext, pos []string, own any) int {
	o := own.(*registerFlags)
	if len(pos) != 1 || o.exec == "" {
		return cx.usageError("register needs exactly one PROC and --exec CMD")
	}
	c, err := cx.connect()
	if err != nil {
		return cx.fail(err)
	}
	defer c.Close()
	h := func(ctx context.Context, inv *client.Invocation) (*client.Result, error) {
		return execInvocation(ctx, o.exec, inv)
	}
	if _, err := c.Register(pos[0], h, &client.RegisterOptions{Match: o.match, Invoke: o.invoke}); err != nil {
		return cx.fail(err)
	}
	if cx.opts.json {
		cx.printJSON(cx.stderr, map[string]any{"registered": pos[0]})
	} else {
		fmt.Fprintf(cx.stderr, "registered %s; Ctrl-C to stop\n", pos[0])
	}
	select {
	case <-interrupted():
		return 0
	case <-c.Done():
		return cx.fail(fmt.Errorf("session ended: %v", c.Err()))
	}
}

// execInvocation runs the --exec command for one invocation.
func execInvocation(ctx context.Context, command string, inv *client.Invocation) (*client.Result, error) {
	in, err := json.Marshal(map[string]any{"args": orEmpty(inv.Args), "kwargs": orEmptyMap(inv.Kwargs)})
	if err != nil {
		return nil, &client.Error{URI: "wamp.error.invalid_argument", Args: []any{"arguments cannot be written as JSON: " + err.Error()}}
	}
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return nil, &client.Error{URI: "wamp.error.runtime_error", Args: []any{msg}}
	}
	out := strings.TrimRight(stdout.String(), "\n")
	return &client.Result{Args: []any{parseArg(out)}}, nil
}

func runJoin(cx *cliContext, pos []string, _ any) int {
	if len(pos) != 0 {
		return cx.usageError("join takes no arguments")
	}
	c, err := cx.connect()
	if err != nil {
		return cx.fail(err)
	}
	defer c.Close()
	d := c.Details()
	if cx.opts.json {
		cx.printJSON(cx.stdout, map[string]any{"session": c.ID(), "realm": cx.opts.realm, "details": orEmptyMap(d)})
		return 0
	}
	fmt.Fprintf(cx.stdout, "session %d joined %s\n", c.ID(), cx.opts.realm)
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(cx.stdout, "  %s: %s\n", k, jsonText(d[k]))
	}
	return 0
}

func (cx *cliContext) usageError(msg string) int {
	fmt.Fprintf(cx.stderr, "zwamp: %s (see --help)\n", msg)
	return 2
}

// interrupted receives the first SIGINT or SIGTERM.
func interrupted() <-chan os.Signal {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	return ch
}
