"""The hub server: gRPC wiring (`server`), who may call (`auth`), what each RPC means
(`service`), the deterministic write path (`ledger`), the one writer thread (`writer`), LMDB
(`store`), the in-memory match index (`index`) and metrics (`metrics`).

Path of a submission: server -> service/servicers.SubmitSignals -> service/submissions ->
auth.verify_envelope and parse_batch -> command_log -> writer -> ledger/dispatch.apply_entry ->
ledger/submissions.apply_submit (inside one LMDB write transaction, store/) ->
index.CommitHook. docs/architecture.md follows a match and a feed event too.
Nothing outside this package imports it except the `signalhub` command's entry points.
"""
