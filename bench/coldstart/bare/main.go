// Command bare is the cold-start benchmark's baseline: an aws-lambda-go
// function that decodes the same API Gateway event as the route binary and
// answers a fixed response, built the same way in the same run.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(ctx context.Context, e events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		return events.APIGatewayProxyResponse{StatusCode: 200, Body: "{}"}, nil
	})
}
