"""Generated protobuf and gRPC code of the signalhub.v1 wire contract (see proto/). Do not edit:
run `make proto`; tests/test_proto_drift.py fails when these files drift from the .proto files."""
