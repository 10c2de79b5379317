/**
 * The dependency rule (docs/architecture.md, "Parts and their seams"), checked by `npm test`
 * (test/unit/dependencies.test.ts). Arrows point one way: the protocol package imports nothing; the hub
 * imports the protocol and its own seams (access, fan-out, the persistence port); transport and the server
 * API import the hub; the SDK imports only the protocol package.
 */
const notTypeOnly = { dependencyTypesNot: ['type-only'] };

module.exports = {
  forbidden: [
    { name: 'no-cycles', severity: 'error', comment: 'no import cycle, type-only ones included', from: {}, to: { circular: true } },
    {
      name: 'protocol-imports-nothing',
      severity: 'error',
      comment:
        'the protocol package is what server and SDK share: it imports nothing of the project (zod for its schemas, the Protobuf runtime for its binary encoding)',
      from: { path: '^src/protocol/' },
      to: { pathNot: ['^src/protocol/', 'node_modules/zod/', 'node_modules/@bufbuild/protobuf/'] },
    },
    {
      name: 'hub-imports-protocol-and-its-seams',
      severity: 'error',
      comment: 'the hub decides; it knows no socket, SQL, Redis, config file or I/O',
      from: { path: '^src/hub/' },
      to: { pathNot: ['^src/hub/', '^src/protocol/', '^src/access/', '^src/fanout/'] },
    },
    {
      name: 'broker-knows-nothing-of-the-server',
      severity: 'error',
      comment: 'a broker moves opaque bytes between nodes on named channels: no rooms, sessions or pushes',
      from: { path: '^src/broker/' },
      to: { path: '^src/', pathNot: '^src/broker/' },
    },
    {
      name: 'cluster-joins-the-hub-port-to-a-broker',
      severity: 'error',
      comment: 'the cluster layer implements the hub\'s ClusterPort over the Broker interface; it reaches no socket, store or fan-out',
      from: { path: '^src/cluster/' },
      to: { path: '^src/(outbound|store|transport|commands|media|api|webhooks|access)/|^src/hub/(?!cluster\\.ts$)|^src/fanout/(?!fanout\\.ts$)' },
    },
    {
      name: 'access-is-pure',
      severity: 'error',
      from: { path: '^src/access/' },
      to: { pathNot: ['^src/access/', '^src/protocol/'] },
    },
    {
      name: 'fanout-delivers-below-the-hub',
      severity: 'error',
      comment: 'the fan-out knows sessions, codecs and the outbound batches, never the hub',
      from: { path: '^src/fanout/' },
      to: { pathNot: ['^src/fanout/', '^src/protocol/', '^src/outbound/'] },
    },
    {
      name: 'outbound-is-the-bottom',
      severity: 'error',
      comment: 'outbound frames and writes bytes: protocol, the clock, and zlib for frames compressed once for many sockets',
      from: { path: '^src/outbound/' },
      to: { pathNot: ['^src/outbound/', '^src/protocol/', '^node:perf_hooks$', 'perf_hooks', '^node:zlib$', '^zlib$'] },
    },
    {
      name: 'commands-above-the-hub',
      severity: 'error',
      from: { path: '^src/commands/' },
      to: { pathNot: ['^src/commands/', '^src/hub/', '^src/protocol/', '^src/access/'] },
    },
    {
      name: 'api-above-the-hub',
      severity: 'error',
      comment: 'the server API asks the hub and the access rules, as the WebSocket commands do',
      from: { path: '^src/api/' },
      to: { path: '^src/(fanout|outbound|store|transport|commands|media)/' },
    },
    {
      name: 'webhooks-listen-to-the-hub',
      severity: 'error',
      comment: 'webhooks implement the hub\'s HubEvents port and keep their queue in the store; only the server wires them',
      from: { path: '^src/webhooks/' },
      to: { path: '^src/(fanout|outbound|transport|commands|media|api)/|^src/hub/(?!events\\.ts$)' },
    },
    {
      name: 'only-the-server-wires-webhooks',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/webhooks/', '^src/server\\.ts$'] },
      to: { path: '^src/webhooks/' },
    },
    {
      name: 'store-implements-the-port',
      severity: 'error',
      comment: 'the store may know the hub\'s persistence port and nothing else of it',
      from: { path: '^src/store/' },
      to: { path: '^src/(hub|fanout|transport|commands|access|media|api)/', pathNot: '^src/hub/persistence\\.ts$' },
    },
    {
      name: 'nothing-below-imports-transport',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/transport/', '^src/server\\.ts$', '^src/cli/', '^src/api/'] },
      to: { path: '^src/transport/' },
    },
    {
      name: 'hot-path-counts-through-interfaces',
      severity: 'error',
      comment:
        'the outbound layer, the fan-out, the hub and the command pipeline count through small counters interfaces of their own (no-op by default); observe/metrics.ts implements them, and only observe/ knows prom-client',
      from: { path: '^src/(outbound|fanout|hub|commands)/' },
      to: { path: ['^src/observe/', 'node_modules/prom-client/'] },
    },
    {
      name: 'only-observe-knows-prom-client',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/observe/' },
      to: { path: 'node_modules/prom-client/' },
    },
    {
      name: 'server-imports-no-client-web-bench-or-test',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(client|web|bench|test)/' },
    },
    {
      name: 'sdk-imports-only-the-protocol',
      severity: 'error',
      from: { path: '^client/src/' },
      to: { path: '^src/', pathNot: '^src/protocol/' },
    },
    {
      name: 'sdk-runs-no-schema-code',
      severity: 'error',
      comment: 'the SDK is bundled for browsers: from the zod schemas it takes types only',
      from: { path: '^client/src/' },
      to: { path: ['^src/protocol/commands\\.ts$', 'node_modules/zod/'], ...notTypeOnly },
    },
    {
      name: 'web-imports-sdk-and-protocol',
      severity: 'error',
      from: { path: '^web/src/' },
      to: { path: '^(src|bench|test)/', pathNot: '^src/protocol/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], extensions: ['.ts', '.js'] },
  },
};
