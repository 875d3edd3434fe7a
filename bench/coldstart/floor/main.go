// Command floor is the cold-start benchmark's second baseline: the bare
// function plus a DynamoDB client, which every function of the platform
// has. Its init is the least any design of the functions could take, one
// binary or many: the SDK's DynamoDB packages' initialisers run at every
// start of any binary that links them.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

func main() {
	client := dynamodb.New(dynamodb.Options{Region: os.Getenv("AWS_REGION")})
	lambda.Start(func(ctx context.Context, e events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		if e.HTTPMethod == "PUT" { // never: keeps the client's operations linked
			_, _ = client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(e.Path)})
		}
		return events.APIGatewayProxyResponse{StatusCode: 200, Body: "{}"}, nil
	})
}
