// Emulated SIP callers against a real livekit-server, for benchmarks/capacity_live.py: the
// same calls and the same output as benchmarks/sip_callers.py, on LiveKit's Go SDK (pion: no
// native threads per room, one process for every call), so the load generator takes less of
// the machine it shares with what it measures.
//
//	sip_callers_go URL KEY SECRET PLAN_JSON
//
// Each call: a participant whose token's kind is SIP, with the sip.* attributes LiveKit's SIP
// service writes on an inbound call, joins its own room; the agent is sent there by explicit
// dispatch; the caller goes `active` 1 s later and, when a line comes on stdin (or after
// hold_s at the latest), writes `hangup` and leaves. The plan gives
// `calls`: [[room, agent_name, start_at (unix s)], ...], `hold_s`, `first` (the first
// caller's number) and `dispatch`: "room" (the default) creates the room with the agent in its
// room configuration, from the caller's token, as LiveKit's SIP service does for a dispatch
// rule's room_config; "api" joins first and then asks AgentDispatchService.CreateDispatch.
// Lines of JSON on stdout: one when a call is up (room, agent, dispatched: unix s just before
// the dispatch, i.e. the connect that creates the room or the API request; connect_s: how long
// its own room took to connect) and one at its end (the same with done and any error).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
)

const activeAfter = time.Second

type plan struct {
	Calls    [][3]any `json:"calls"`
	HoldS    float64  `json:"hold_s"`
	First    int      `json:"first"`
	Dispatch string   `json:"dispatch"`
}

type record struct {
	Room       string   `json:"room"`
	Agent      string   `json:"agent"`
	Dispatched *float64 `json:"dispatched"`
	ConnectS   float64  `json:"connect_s,omitempty"`
	Done       bool     `json:"done,omitempty"`
	Error      string   `json:"error,omitempty"`
}

var out = struct {
	sync.Mutex
	enc *json.Encoder
}{enc: json.NewEncoder(os.Stdout)}

func emit(r record) {
	out.Lock()
	defer out.Unlock()
	_ = out.enc.Encode(r)
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func token(key, secret, room, agent string, n int) (string, error) {
	canUpdate := true
	t := auth.NewAccessToken(key, secret)
	if agent != "" {
		t.SetRoomConfig(&livekit.RoomConfiguration{
			Agents: []*livekit.RoomAgentDispatch{{AgentName: agent}},
		})
	}
	return t.
		SetIdentity(fmt.Sprintf("sip_+1555%07d", n)).
		SetKind(livekit.ParticipantInfo_SIP).
		SetAttributes(map[string]string{
			"sip.callID":           "SCL_" + room,
			"sip.callStatus":       "ringing",
			"sip.phoneNumber":      fmt.Sprintf("+1555%07d", n),
			"sip.trunkPhoneNumber": "+15559870002",
			"sip.trunkID":          "ST_bench",
			"sip.ruleID":           "SDR_bench",
		}).
		AddGrant(&auth.VideoGrant{RoomJoin: true, Room: room, CanUpdateOwnMetadata: &canUpdate}).
		ToJWT()
}

// call places one call; dispatch is nil when the room's configuration dispatches the agent.
func call(url, key, secret string, dispatch *lksdk.AgentDispatchClient, c [3]any, n int, hangup <-chan struct{}) record {
	r := record{Room: c[0].(string), Agent: c[1].(string)}
	time.Sleep(time.Until(time.Unix(0, int64(c[2].(float64)*1e9))))
	inToken := ""
	if dispatch == nil {
		inToken = r.Agent
	}
	jwt, err := token(key, secret, r.Room, inToken, n)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	connecting := time.Now()
	if dispatch == nil {
		now := unix(connecting)
		r.Dispatched = &now
	}
	room, err := lksdk.ConnectToRoomWithToken(url, jwt, lksdk.NewRoomCallback(),
		lksdk.WithAutoSubscribe(false), lksdk.WithSinglePeerConnection())
	if err != nil {
		r.Error = "connect: " + err.Error()
		return r
	}
	defer room.Disconnect()
	r.ConnectS = time.Since(connecting).Seconds()
	if dispatch != nil {
		now := unix(time.Now())
		r.Dispatched = &now
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err = dispatch.CreateDispatch(ctx, &livekit.CreateAgentDispatchRequest{AgentName: r.Agent, Room: r.Room})
		cancel()
		if err != nil {
			r.Error = "dispatch: " + err.Error()
			return r
		}
	}
	emit(r) // the call is up: the benchmark's idle window
	time.Sleep(activeAfter)
	room.LocalParticipant.SetAttributes(map[string]string{"sip.callStatus": "active"})
	<-hangup
	room.LocalParticipant.SetAttributes(map[string]string{"sip.callStatus": "hangup"})
	return r
}

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: sip_callers_go URL KEY SECRET PLAN_JSON")
		os.Exit(2)
	}
	url, key, secret := os.Args[1], os.Args[2], os.Args[3]
	var p plan
	if err := json.Unmarshal([]byte(os.Args[4]), &p); err != nil {
		fmt.Fprintln(os.Stderr, "sip_callers_go: the plan is not JSON:", err)
		os.Exit(2)
	}
	hangup := make(chan struct{})
	var once sync.Once
	hangUp := func() { once.Do(func() { close(hangup) }) }
	go func() {
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
		hangUp()
	}()
	time.AfterFunc(time.Duration(p.HoldS*float64(time.Second)), hangUp)
	http := strings.Replace(strings.Replace(url, "ws://", "http://", 1), "wss://", "https://", 1)
	var dispatch *lksdk.AgentDispatchClient
	switch p.Dispatch {
	case "", "room":
	case "api":
		dispatch = lksdk.NewAgentDispatchServiceClient(http, key, secret)
	default:
		fmt.Fprintln(os.Stderr, "sip_callers_go: dispatch must be room or api, not", p.Dispatch)
		os.Exit(2)
	}
	var wg sync.WaitGroup
	for i, c := range p.Calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := call(url, key, secret, dispatch, c, p.First+i, hangup)
			r.Done = true
			emit(r)
		}()
	}
	wg.Wait()
}
