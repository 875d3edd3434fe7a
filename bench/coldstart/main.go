// Command coldstart measures what a Lambda cold start of cmd/lambda costs
// against a bare aws-lambda-go function, all built in the same run the
// way infra builds the assets (-trimpath -ldflags '-s -w', CGO off, the
// tags of lambdatier.Tags: the table tier adds lambda.tableonly). Each
// function runs the tier lambdatier.Tier gives its route's Needs, as
// infra deploys it. For each run it serves the Lambda Runtime API on
// loopback (cmd/lambda/runtimeapi), starts the binary with the environment
// Lambda and infra give that function (the lifecycle's and STS's settings
// only where the route's Needs ask for them), and records
//
//   - init: exec to the binary's first GET …/invocation/next (what Lambda
//     bills as the init phase);
//   - first invocation: that event handed over (an API Gateway event from
//     events/fixtures) to its response posted.
//
// A second baseline, the bare function plus a DynamoDB client
// (bench/coldstart/floor), is the least any design could start in: every
// function uses DynamoDB, and its SDK packages' initialisers run in any
// binary that links them. The three binaries' runs are interleaved, so
// load on the machine hits them alike. It reports the medians, the ratios
// to the bare function, each build's time and the deployed assets' zipped
// sizes (the linux/arm64 builds infra uploads, one per tier), and, from one
// extra run each under GODEBUG=inittrace=1, how much of init the package
// initialisers take.
//
//	go run ./bench/coldstart -n 50
//	go run ./bench/coldstart -n 50 -routes analyses-list,jobs-get,files-upload,step-start-run,authorizer
//	go run ./bench/coldstart -asset=false -bin /path/to/other/bootstrap   # compare a build
//
// The functions never reach AWS (AWS_ENDPOINT_URL is a closed loopback
// port, the credentials dummies): analyses-list answers from the embedded
// catalog; other API routes answer the same event from routing alone (404),
// steps refuse input without ids, so their first invocations time the
// invoke path only.
package main

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openrescale/platform/cmd/lambda/lambdatier"
	"github.com/openrescale/platform/cmd/lambda/runtimeapi"
	"github.com/openrescale/platform/functions/api"
	"github.com/openrescale/platform/shared/httpapi"
)

type options struct {
	n      int
	routes []string
	asset  bool
	// coldCache builds the assets from an empty build cache.
	coldCache bool
	keep      bool
	bin       string
	before    string
}

func main() {
	var o options
	var routes string
	flag.IntVar(&o.n, "n", 30, "cold starts per binary")
	flag.StringVar(&routes, "routes", "analyses-list,authorizer,files-upload", "comma-separated ROUTE values to measure; the first is the acceptance route")
	flag.BoolVar(&o.asset, "asset", true, "also build the linux/arm64 asset and report its zipped size")
	flag.BoolVar(&o.coldCache, "coldcache", false, "build the assets from an empty build cache (a fresh deploy machine's build time)")
	flag.BoolVar(&o.keep, "keep", false, "keep the build directory")
	flag.StringVar(&o.bin, "bin", "", "measure this prebuilt binary for every route instead of building cmd/lambda's tiers (to compare designs)")
	flag.StringVar(&o.before, "before", "", "also measure this prebuilt binary (an earlier cmd/lambda), interleaved with the others, as row \"before\"")
	flag.Parse()
	o.routes = strings.Split(routes, ",")
	if err := run(context.Background(), o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "coldstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, out io.Writer) error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "coldstart-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintln(out, "build directory:", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	bareBin, floorBin := filepath.Join(dir, "bare", "bootstrap"), filepath.Join(dir, "floor", "bootstrap")
	tierBin := map[string]string{
		lambdatier.Table: filepath.Join(dir, "table", "bootstrap"),
		lambdatier.Full:  filepath.Join(dir, "full", "bootstrap"),
	}
	type target struct {
		name, pkg, out string
		tags           []string
	}
	builds := []target{
		{"bare", "./bench/coldstart/bare", bareBin, lambdatier.Tags(lambdatier.Full)},
		{"bare+DynamoDB", "./bench/coldstart/floor", floorBin, lambdatier.Tags(lambdatier.Full)},
	}
	if o.bin == "" {
		for _, tier := range []string{lambdatier.Table, lambdatier.Full} {
			builds = append(builds, target{"cmd/lambda " + tier + " tier", "./cmd/lambda", tierBin[tier], lambdatier.Tags(tier)})
		}
	} else {
		tierBin[lambdatier.Table], tierBin[lambdatier.Full] = o.bin, o.bin
	}
	fmt.Fprintf(out, "native %s builds:\n", goVersion(ctx))
	for _, b := range builds {
		took, err := build(ctx, root, b.pkg, b.out, b.tags, nil)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "  %s: %s, built in %.1f s\n", b.name, size(b.out), took.Seconds())
	}
	if o.asset {
		// What infra builds and uploads: both tiers for linux/arm64, one
		// after the other. The table tier's packages are the full tier's
		// but cmd/lambda, so built second it compiles that one package.
		// -coldcache starts from an empty build cache, as a fresh deploy
		// machine does.
		env := []string{"GOOS=linux", "GOARCH=arm64"}
		cache := "this machine's build cache"
		if o.coldCache {
			env, cache = append(env, "GOCACHE="+filepath.Join(dir, "gocache")), "an empty build cache"
		}
		var total time.Duration
		fmt.Fprintf(out, "assets (linux/arm64 bootstrap, as infra builds them, from %s):\n", cache)
		for _, tier := range []string{lambdatier.Full, lambdatier.Table} {
			asset := filepath.Join(dir, "asset-"+tier, "bootstrap")
			took, err := build(ctx, root, "./cmd/lambda", asset, lambdatier.Tags(tier), env)
			if err != nil {
				return err
			}
			total += took
			zipped, err := zipSize(asset)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "  %s tier: %s, zipped %s, built in %.1f s\n", tier, size(asset), mib(zipped), took.Seconds())
		}
		fmt.Fprintf(out, "  both: %.1f s\n", total.Seconds())
	}
	needs := map[string][]httpapi.Permission{}
	for _, rt := range api.Routes(api.Deps{}) {
		needs[rt.Name] = rt.Needs
	}
	apiEvent, err := os.ReadFile(filepath.Join(root, "events", "fixtures", "apigateway", "get-analyses.json"))
	if err != nil {
		return err
	}
	home := filepath.Join(dir, "home") // no ~/.aws, as in Lambda
	if err := os.MkdirAll(home, 0o755); err != nil {
		return err
	}

	fmt.Fprintf(out, "\n%d cold starts each, interleaved; medians (p10–p90)\n\n", o.n)
	fmt.Fprintf(out, "| ROUTE | init | bare init | init ratio | bare+DynamoDB init (ratio) | first invocation | bare first invocation | package inits |\n")
	fmt.Fprintf(out, "| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, route := range o.routes {
		rn, isAPI := needs[route]
		if !isAPI {
			rn = functionNeeds(route)
		}
		tier := lambdatier.Tier(rn)
		fns := []function{
			{bin: tierBin[tier], env: lambdaEnv(home, route, rn), event: eventFor(route, apiEvent)},
			{bin: bareBin, env: lambdaEnv(home, "bare", nil), event: apiEvent},
			{bin: floorBin, env: lambdaEnv(home, "floor", nil), event: apiEvent},
		}
		if o.before != "" {
			fns = append(fns, function{bin: o.before, env: lambdaEnv(home, route, rn), event: eventFor(route, apiEvent)})
		}
		samples := make([][]sample, len(fns))
		for i := 0; i < o.n; i++ {
			// Rotate who goes first, so drift in the machine's load
			// falls on all three alike.
			for k := range fns {
				j := (i + k) % len(fns)
				s, err := coldStart(ctx, fns[j], nil)
				if err != nil {
					return fmt.Errorf("%s run %d: %w", fns[j].env[0], i, err)
				}
				samples[j] = append(samples[j], s)
			}
		}
		initTrace, err := coldStart(ctx, fns[0], []string{"GODEBUG=inittrace=1"})
		if err != nil {
			return err
		}
		r, b, f := samples[0], samples[1], samples[2]
		ri, bi, fi := stat(r, sample.initTime), stat(b, sample.initTime), stat(f, sample.initTime)
		rf, bf := stat(r, sample.firstTime), stat(b, sample.firstTime)
		fmt.Fprintf(out, "| %s (%s) | %s | %s | %.2f× | %s (%.2f×) | %s | %s | %.1f ms |\n", route, tier, ri, bi,
			float64(ri.median)/float64(bi.median), ms(fi.median), float64(fi.median)/float64(bi.median), rf, bf, initTrace.inits)
		if r[0].status != "" {
			fmt.Fprintf(out, "|   ↳ first invocation answered %s | | | | | | | |\n", r[0].status)
		}
		if o.before != "" {
			pi, pf := stat(samples[3], sample.initTime), stat(samples[3], sample.firstTime)
			fmt.Fprintf(out, "| %s, before | %s | | %.2f× | | %s | | |\n", route, pi, float64(pi.median)/float64(bi.median), pf)
		}
	}
	return nil
}

// function is one binary with its environment and the event it is sent.
type function struct {
	bin   string
	env   []string
	event []byte
}

type sample struct {
	init, first time.Duration
	status      string  // the route's answer, summarised
	inits       float64 // ms of package init clock time (inittrace runs)
}

func (s sample) initTime() time.Duration  { return s.init }
func (s sample) firstTime() time.Duration { return s.first }

var initLine = regexp.MustCompile(`^init \S+ @[0-9.]+ ms, ([0-9.]+) ms clock`)

// coldStart starts one process against a fresh Runtime API, sends it one
// event and kills it.
func coldStart(ctx context.Context, f function, extraEnv []string) (sample, error) {
	api, err := runtimeapi.Start()
	if err != nil {
		return sample{}, err
	}
	defer api.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.Command(f.bin)
	cmd.Env = append(append(slices.Clone(f.env), "AWS_LAMBDA_RUNTIME_API="+api.Addr()), extraEnv...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return sample{}, err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait() // killed below: the error says so
		close(exited)
	}()
	defer func() {
		_ = cmd.Process.Kill()
		<-exited
	}()
	readyCtx, stop := context.WithCancel(ctx)
	go func() {
		select {
		case <-exited:
			stop()
		case <-readyCtx.Done():
		}
	}()
	ready, err := api.Ready(readyCtx)
	stop()
	if err != nil {
		_ = cmd.Process.Kill()
		<-exited
		return sample{}, fmt.Errorf("init: %w\n%s", err, stderr.String())
	}
	res, err := api.Invoke(ctx, f.event)
	if err != nil {
		_ = cmd.Process.Kill()
		<-exited
		return sample{}, fmt.Errorf("invoke: %w\n%s", err, stderr.String())
	}
	s := sample{init: ready.Sub(start), first: res.Done.Sub(res.Delivered)}
	switch {
	case res.Error != nil:
		s.status = "error " + res.Error.Type + ": " + res.Error.Message
	default:
		var gw struct{ StatusCode int }
		if json.Unmarshal(res.Payload, &gw) == nil && gw.StatusCode != 0 && gw.StatusCode != 200 {
			s.status = "HTTP " + strconv.Itoa(gw.StatusCode)
		}
	}
	if len(extraEnv) > 0 {
		_ = cmd.Process.Kill()
		<-exited
		sc := bufio.NewScanner(bytes.NewReader(stderr.Bytes()))
		for sc.Scan() {
			if m := initLine.FindStringSubmatch(sc.Text()); m != nil {
				v, _ := strconv.ParseFloat(m[1], 64)
				s.inits += v
			}
		}
	}
	return s, nil
}

// functionNeeds is what the functions outside the route table use, as
// Needs: the authorizer reads the table; the others use S3, Batch and
// Step Functions.
func functionNeeds(route string) []httpapi.Permission {
	if route == "authorizer" {
		return []httpapi.Permission{httpapi.TableRead}
	}
	return []httpapi.Permission{httpapi.TableRead, httpapi.TableWrite, httpapi.BucketRead, httpapi.BucketWrite,
		httpapi.StartExecution, httpapi.StopExecution, httpapi.ComputeControl, httpapi.IssueUploadCredentials}
}

// lambdaEnv is the environment Lambda gives a provided.al2023 function plus
// what infra sets (ROUTE, TABLE_NAME, BUCKET_NAME; the lifecycle's
// settings and UPLOAD_ROLE_ARN where needs ask for them), and nothing
// inherited from this machine.
func lambdaEnv(home, route string, needs []httpapi.Permission) []string {
	var infra []string
	for _, n := range needs {
		switch n {
		case httpapi.StartExecution, httpapi.StopExecution, httpapi.ComputeControl:
			infra = append(infra,
				"API_URL=https://gy415nuibc.execute-api.us-east-1.amazonaws.com/prod/api/v2/",
				"STATE_MACHINE_ARN=arn:aws:states:us-east-1:123456789012:stateMachine:Job",
				`BATCH_DEPLOYMENT={"queues":{"standard-plus":{"queue":"arn:aws:batch:us-east-1:123456789012:job-queue/standard-plus","coresPerNode":4}},"definitions":{"*":{"single":"agent-single"}}}`)
		case httpapi.IssueUploadCredentials:
			infra = append(infra, "UPLOAD_ROLE_ARN=arn:aws:iam::123456789012:role/UploadRole")
		}
	}
	slices.Sort(infra)
	infra = slices.Compact(infra)
	return append([]string{
		"ROUTE=" + route,
		"TABLE_NAME=OpenRescalePlatform-Table",
		"BUCKET_NAME=openrescaleplatform-files",
		"AWS_REGION=us-east-1",
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=ASIAXXXXXXXXXXXXXXXX",
		"AWS_SECRET_ACCESS_KEY=bench/not/a/real/secret",
		"AWS_SESSION_TOKEN=bench-session-token",
		// Nothing leaves the machine: a function that calls AWS gets
		// "connection refused" at once.
		"AWS_ENDPOINT_URL=http://127.0.0.1:9",
		"AWS_LAMBDA_FUNCTION_NAME=Fn-" + route,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256",
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/Fn-" + route,
		"AWS_EXECUTION_ENV=AWS_Lambda_provided.al2023",
		"LAMBDA_TASK_ROOT=/var/task",
		"_HANDLER=bootstrap",
		"TZ=:UTC",
		"LANG=en_US.UTF-8",
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"HOME=" + home,
	}, infra...)
}

// eventFor is the event a route's function is sent: the API Gateway
// fixture for API routes (other routes than analyses-list answer it with
// 404 or 405, which costs what routing costs), the events the step, event
// and schedule functions get otherwise.
func eventFor(route string, apiEvent []byte) []byte {
	switch {
	case strings.HasPrefix(route, "step-"):
		// Input without ids: JobInvalid before any store access.
		return []byte(`{}`)
	case route == "reconcile":
		return []byte(`{"version":"0","id":"e","detail-type":"Scheduled Event","source":"aws.events","detail":{}}`)
	case route == "batch-job-state":
		return []byte(`{"version":"0","id":"e","detail-type":"Not Batch","source":"bench","detail":{}}`)
	case route == "authorizer":
		return []byte(`{"type":"REQUEST","methodArn":"arn:aws:execute-api:us-east-1:123456789012:api/prod/GET/","headers":{}}`)
	case route == "s3-object-created":
		return []byte(`{"Records":[]}`)
	}
	return apiEvent
}

// build builds pkg as infra builds an asset, and says how long it took.
func build(ctx context.Context, root, pkg, out string, tags, env []string) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", strings.Join(tags, ","), "-trimpath", "-buildvcs=false",
		"-ldflags", "-s -w", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0"), env...)
	start := time.Now()
	if b, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return time.Since(start), nil
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from inside the repository")
		}
		dir = parent
	}
}

func goVersion(ctx context.Context) string {
	b, err := exec.CommandContext(ctx, "go", "env", "GOVERSION", "GOARCH").Output()
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b)), " ")
}

// zipSize is the size of the asset as CDK uploads it: one deflated entry.
func zipSize(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var buf countWriter
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "bootstrap", Method: zip.Deflate})
	if err != nil {
		return 0, err
	}
	if _, err := io.Copy(w, f); err != nil {
		return 0, err
	}
	if err := zw.Close(); err != nil {
		return 0, err
	}
	return buf.n, nil
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func size(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return "?"
	}
	return mib(fi.Size())
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

type summary struct{ median, p10, p90 time.Duration }

func stat(s []sample, f func(sample) time.Duration) summary {
	d := make([]time.Duration, len(s))
	for i, x := range s {
		d[i] = f(x)
	}
	slices.Sort(d)
	at := func(q float64) time.Duration { return d[int(q*float64(len(d)-1)+0.5)] }
	return summary{median: at(0.5), p10: at(0.1), p90: at(0.9)}
}

func (s summary) String() string {
	return fmt.Sprintf("%s (%s–%s)", ms(s.median), ms(s.p10), ms(s.p90))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
