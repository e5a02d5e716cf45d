"""The edge of the engine that talks to Azure: connections, reading the live factory, the calls apply makes.

Only this package imports the Azure SDKs, and only inside its modules (`adf_client`, `connection`, `reader`,
`operations`, `credentials`), so that `promote --help` and the offline commands never pay for them. Importing
`promote.azure` or `promote.azure.errors` imports no SDK.

- `connection.connect(...)`: both clients for one target at the endpoint `promote.endpoints` chose (Azure or an
  emulator), retries and time-outs configured once: `adf_client.DataFactoryClient` (raw JSON through the pipeline
  the SDK's Data Factory client would build, without importing it) and the SDK's `DeploymentsMgmtClient`.
- `reader.read_live(conn)`: the live factory as a `LiveState` (raw JSON, normalised like the desired side with
  `promote.normalise.comparable`), trigger states, tags and a fingerprint.
- `operations`: trigger stop / start / (un)subscribe, deploy a template, delete an object, tag the factory,
  create it when absent, run a pipeline, deployment history — each time-limited, raising `errors`.
"""
