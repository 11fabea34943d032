// Evaluates IAM requests with @cloud-copilot/iam-simulate (pinned in package.json): reads a JSON
// list of {name, simulation} on stdin, writes a JSON list of {name, result, errors} on stdout.
// Called by tests/payer/simulator.py; one process evaluates every case of a test run.
import { runSimulation } from '@cloud-copilot/iam-simulate'

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const cases = JSON.parse(Buffer.concat(chunks).toString('utf8'))
const results = []
for (const { name, simulation } of cases) {
  const response = await runSimulation(simulation, {})
  if (response.resultType === 'error') {
    results.push({ name, result: 'Error', errors: response.errors })
  } else {
    results.push({ name, result: response.overallResult, errors: null })
  }
}
process.stdout.write(JSON.stringify(results))
