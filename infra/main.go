// Command infra is the CDK app (cdk.json: "go run ./infra"). It builds the
// one Lambda bootstrap binary for linux/arm64 and synthesises the platform
// stack from the route table, so deployed routes can never drift from the
// routes the code serves.
//
// Environment: LAMBDA_ASSET_DIR skips the build and uses a directory that
// already holds "bootstrap"; CDK_OUTDIR (set by the cdk CLI) overrides the
// output directory "cdk.out". Context (cdk.json or -c): stackName, publicUrl,
// rateLimit, keyMaxLifetime.
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/openrescale/platform/functions/api"
	"github.com/openrescale/platform/infra/stack"
)

func main() {
	if err := run(context.Background(), os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "infra:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string) error {
	assetDir := getenv("LAMBDA_ASSET_DIR")
	if assetDir == "" {
		// CDK copies the asset into the cloud assembly while synthesising,
		// so the build directory is not needed afterwards.
		tmp, err := os.MkdirTemp("", "openrescale-lambda-")
		if err != nil {
			return fmt.Errorf("asset dir: %w", err)
		}
		defer os.RemoveAll(tmp)
		if err := buildBootstrap(ctx, tmp); err != nil {
			return err
		}
		assetDir = tmp
	}

	outdir := getenv("CDK_OUTDIR")
	if outdir == "" {
		outdir = "cdk.out"
	}
	defer jsii.Close()
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outdir)})

	ctxString := func(key string) string {
		if v, ok := app.Node().TryGetContext(jsii.String(key)).(string); ok {
			return v
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

	var sp awscdk.StackProps
	// The cdk CLI sets these from the caller's credentials; without them the
	// stack is environment-agnostic, which is all it needs.
	if acct, region := getenv("CDK_DEFAULT_ACCOUNT"), getenv("CDK_DEFAULT_REGION"); acct != "" && region != "" {
		sp.Env = &awscdk.Environment{Account: jsii.String(acct), Region: jsii.String(region)}
	}
	if _, err := stack.NewPlatformStack(app, stackName, stack.Props{
		StackProps:  sp,
		Routes:      api.Routes(api.Deps{}),
		AssetDir:    assetDir,
		FunctionEnv: env,
	}); err != nil {
		return fmt.Errorf("define stack: %w", err)
	}
	app.Synth(nil)
	return nil
}

// buildBootstrap cross-compiles cmd/lambda into dir/bootstrap, the name the
// provided.al2023 runtime executes. It runs from the module root, where the
// cdk CLI runs the app.
func buildBootstrap(ctx context.Context, dir string) error {
	cmd := exec.CommandContext(ctx, "go", "build",
		// lambda.norpc drops the legacy RPC mode that provided runtimes
		// never use; -trimpath and -buildvcs=false keep the binary, and so
		// the asset hash, identical across checkouts and commits that do not
		// change code, so deploys only replace functions when code changed.
		"-tags", "lambda.norpc", "-trimpath", "-buildvcs=false", "-ldflags", "-s -w",
		"-o", filepath.Join(dir, "bootstrap"), "./cmd/lambda")
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build lambda bootstrap: %w", err)
	}
	return nil
}
