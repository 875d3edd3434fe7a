package main

import (
	"context"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/openrescale/platform/functions/api"
	"github.com/openrescale/platform/shared/gateway"
	"github.com/openrescale/platform/shared/httpapi"
)

// Handler returns the API Gateway handler serving only the named route,
// and that route-table entry.
func Handler(route string, deps api.Deps, cfg httpapi.Config) (func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error), httpapi.Route, error) {
	for _, rt := range api.Routes(deps) {
		if rt.Name == route {
			h, err := httpapi.NewHandler([]httpapi.Route{rt}, cfg)
			if err != nil {
				return nil, rt, err
			}
			return gateway.Handler(h), rt, nil
		}
	}
	return nil, httpapi.Route{}, fmt.Errorf("no route named %q", route)
}
