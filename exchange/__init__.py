"""The hub server: gRPC wiring (`server`), who may call (`auth`), what each RPC means
(`service`), the deterministic write path (`ledger`), the one writer thread (`writer`), LMDB
(`store`), the in-memory match index (`index`) and metrics (`metrics`).

Path of a submission: server -> service.SubmitSignals -> auth.verify_envelope -> writer ->
ledger.apply_entry (inside one LMDB write transaction, store) -> index.
Nothing outside this package imports it except the `signalhub` command's entry points.
"""
