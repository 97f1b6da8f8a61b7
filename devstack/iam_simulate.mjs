// Evaluates simulations with @cloud-copilot/iam-simulate (node_modules, package.json): a JSON
// array of Simulation objects on stdin, one {overallResult, errors} per simulation on stdout.
// Run by devstack/iam_check.py; nothing else here decides what IAM allows.
import { runSimulation } from '@cloud-copilot/iam-simulate'

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const simulations = JSON.parse(Buffer.concat(chunks).toString('utf8'))
const results = []
for (const simulation of simulations) {
  const response = await runSimulation(simulation, {})
  if (response.resultType === 'error') {
    results.push({ overallResult: 'Error', errors: response.errors })
  } else {
    results.push({ overallResult: response.overallResult })
  }
}
process.stdout.write(JSON.stringify(results))
