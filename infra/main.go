// Command infra is the CDK app (cdk.json: "go run ./infra"). It builds the
// Lambda bootstrap binaries (two tiers) for linux/arm64 and the job agent for
// linux/amd64, and synthesises the platform from the route table, the
// lifecycle's state machine and the catalog, so deployed routes, steps and
// coretypes can never drift from the code.
//
// Environment: LAMBDA_ASSET_DIR skips the Lambda build and uses a directory
// that already holds "bootstrap" (LAMBDA_TABLE_ASSET_DIR: the table tier
// build, cmd/lambda/lambdatier); AGENT_BINARY skips the agent build and
// uses that file; CDK_OUTDIR (set by the cdk CLI) overrides the output
// directory "cdk.out".
//
// Context (cdk.json or -c key=value): stackName, publicUrl, rateLimit,
// keyMaxLifetime; coretypes (comma-separated codes, default
// stack.DefaultCoretypes), spotCoretypes (codes whose compute runs on
// Spot), maxNodes (largest multi-node job, default stack.DefaultMaxNodes),
// vpcId (import this VPC instead of creating one), privateSubnets ("true":
// run the compute in the imported VPC's private subnets, which multi-node
// jobs need), consoleDir (default
// web/console/static).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/openrescale/platform/cmd/lambda/lambdatier"
	"github.com/openrescale/platform/functions/api"
	"github.com/openrescale/platform/infra/stack"
	"github.com/openrescale/platform/shared/catalog"
	"github.com/openrescale/platform/web/console"
)

func main() {
	if err := run(context.Background(), os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "infra:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string) error {
	tmp, err := os.MkdirTemp("", "openrescale-assets-")
	if err != nil {
		return fmt.Errorf("asset dir: %w", err)
	}
	// CDK copies the assets into the cloud assembly while synthesising,
	// so the build directories are not needed afterwards.
	defer os.RemoveAll(tmp)

	// Two builds of cmd/lambda: the full one, and the table tier most API
	// functions run for their cold starts (cmd/lambda/lambdatier).
	assetDir, tableAssetDir := getenv("LAMBDA_ASSET_DIR"), getenv("LAMBDA_TABLE_ASSET_DIR")
	if assetDir == "" {
		assetDir = filepath.Join(tmp, "lambda")
		if err := build(ctx, "./cmd/lambda", filepath.Join(assetDir, "bootstrap"), "arm64", strings.Join(lambdatier.Tags(lambdatier.Full), ",")); err != nil {
			return err
		}
	}
	if tableAssetDir == "" {
		tableAssetDir = filepath.Join(tmp, "lambda-table")
		if err := build(ctx, "./cmd/lambda", filepath.Join(tableAssetDir, "bootstrap"), "arm64", strings.Join(lambdatier.Tags(lambdatier.Table), ",")); err != nil {
			return err
		}
	}
	agentDir := filepath.Join(tmp, "agent")
	if err := os.MkdirAll(agentDir, 0o755); err != nil {
		return err
	}
	if bin := getenv("AGENT_BINARY"); bin != "" {
		if err := copyFile(bin, filepath.Join(agentDir, "agent"), 0o755); err != nil {
			return fmt.Errorf("agent binary: %w", err)
		}
	} else if err := build(ctx, "./cmd/agent", filepath.Join(agentDir, "agent"), "amd64", ""); err != nil {
		return err
	}
	if err := copyFile(filepath.Join("infra", "agentimage", "Dockerfile"), filepath.Join(agentDir, "Dockerfile"), 0o644); err != nil {
		return fmt.Errorf("agent image: %w", err)
	}

	outdir := getenv("CDK_OUTDIR")
	if outdir == "" {
		outdir = "cdk.out"
	}
	defer jsii.Close()
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outdir)})

	ctxString := func(key string) string {
		switch v := app.Node().TryGetContext(jsii.String(key)).(type) {
		case string:
			return v
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64)
		case bool:
			return strconv.FormatBool(v)
		}
		return ""
	}
	stackName := ctxString("stackName")
	if stackName == "" {
		stackName = "OpenRescalePlatform"
	}
	env := map[string]string{}
	for ctxKey, envKey := range map[string]string{"publicUrl": "PUBLIC_URL", "rateLimit": "RATE_LIMIT", "keyMaxLifetime": "KEY_MAX_LIFETIME"} {
		if v := ctxString(ctxKey); v != "" {
			env[envKey] = v
		}
	}
	props, err := computeProps(ctxString)
	if err != nil {
		return err
	}
	props.Routes = api.Routes(api.Deps{})
	props.AssetDir, props.TableAssetDir, props.AgentImageDir = assetDir, tableAssetDir, agentDir
	props.FunctionEnv = env

	// The cdk CLI sets these from the caller's credentials; without them the
	// stack is environment-agnostic, which is all it needs unless vpcId
	// asks for a lookup.
	if acct, region := getenv("CDK_DEFAULT_ACCOUNT"), getenv("CDK_DEFAULT_REGION"); acct != "" && region != "" {
		props.Env = &awscdk.Environment{Account: jsii.String(acct), Region: jsii.String(region)}
	} else if props.VpcID != "" {
		return errors.New("vpcId needs the target account and region (run through the cdk CLI with credentials)")
	}
	if _, err := stack.NewPlatformStack(app, stackName, props); err != nil {
		return fmt.Errorf("define stack: %w", err)
	}
	app.Synth(nil)
	return nil
}

// computeProps reads the compute context against the embedded catalog.
func computeProps(ctxString func(string) string) (stack.Props, error) {
	var p stack.Props
	cat, err := catalog.Load()
	if err != nil {
		return p, err
	}
	if p.Images, err = catalog.Images(cat); err != nil {
		return p, err
	}
	codes := stack.DefaultCoretypes
	if s := ctxString("coretypes"); s != "" {
		codes = splitList(s)
	}
	for _, code := range codes {
		ct, ok := cat.Coretype(code)
		if !ok {
			return p, fmt.Errorf("context coretypes: unknown coretype %q", code)
		}
		p.Coretypes = append(p.Coretypes, ct)
	}
	if s := ctxString("spotCoretypes"); s != "" {
		p.Spot = map[string]bool{}
		for _, code := range splitList(s) {
			p.Spot[code] = true
		}
	}
	if s := ctxString("maxNodes"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return p, fmt.Errorf("context maxNodes %q: want a positive integer", s)
		}
		p.MaxNodes = n
	}
	p.VpcID = ctxString("vpcId")
	p.PrivateSubnets = ctxString("privateSubnets") == "true"

	p.ConsoleDir = ctxString("consoleDir")
	if p.ConsoleDir == "" {
		p.ConsoleDir = filepath.FromSlash(console.Dir)
	}
	return p, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// build cross-compiles pkg for linux/arch into out. It runs from the
// module root, where the cdk CLI runs the app.
func build(ctx context.Context, pkg, out, arch, tags string) error {
	// -trimpath and -buildvcs=false keep the binary, and so the asset
	// hash, identical across checkouts and commits that do not change
	// code, so deploys only replace functions and images when code
	// changed. CGO off: the agent runs on whatever libc the software
	// image has.
	args := []string{"build", "-trimpath", "-buildvcs=false", "-ldflags", "-s -w", "-o", out}
	if tags != "" {
		// lambda.norpc drops the legacy RPC mode provided runtimes never use.
		args = append(args, "-tags", tags)
	}
	cmd := exec.CommandContext(ctx, "go", append(args, pkg)...)
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+arch, "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build %s: %w", pkg, err)
	}
	return nil
}

func copyFile(from, to string, mode os.FileMode) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
