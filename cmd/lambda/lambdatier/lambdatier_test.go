package lambdatier_test

import (
	"slices"
	"testing"

	"github.com/openrescale/platform/cmd/lambda/lambdatier"
	"github.com/openrescale/platform/shared/httpapi"
)

func TestTier(t *testing.T) {
	p := func(ps ...httpapi.Permission) []httpapi.Permission { return ps }
	tests := []struct {
		needs []httpapi.Permission
		want  string
	}{
		{nil, lambdatier.Table},
		{p(httpapi.TableRead), lambdatier.Table},
		{p(httpapi.TableRead, httpapi.TableWrite), lambdatier.Table},
		{p(httpapi.TableRead, httpapi.BucketRead), lambdatier.Full},
		{p(httpapi.BucketWrite, httpapi.TableWrite), lambdatier.Full},
		{p(httpapi.TableRead, httpapi.IssueUploadCredentials), lambdatier.Full},
		{p(httpapi.TableRead, httpapi.TableWrite, httpapi.StartExecution), lambdatier.Full},
		{p(httpapi.StopExecution), lambdatier.Full},
		{p(httpapi.TableRead, httpapi.ComputeControl), lambdatier.Full},
		{p(httpapi.TableRead, httpapi.ComputeRead), lambdatier.Full},
		{p(httpapi.Permission("unknown:thing")), lambdatier.Full},
	}
	for _, tt := range tests {
		if got := lambdatier.Tier(tt.needs); got != tt.want {
			t.Errorf("Tier(%v) = %s, want %s", tt.needs, got, tt.want)
		}
	}
}

func TestTags(t *testing.T) {
	if got := lambdatier.Tags(lambdatier.Table); !slices.Equal(got, []string{"lambda.norpc", lambdatier.TableTag}) {
		t.Errorf("table tags %v", got)
	}
	if got := lambdatier.Tags(lambdatier.Full); !slices.Equal(got, []string{"lambda.norpc"}) {
		t.Errorf("full tags %v", got)
	}
}
