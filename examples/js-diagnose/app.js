// `svc-diagnose`: the diagnosis of runbook scenario 4 (application service
// failure), in JavaScript, written with drhost-sdk (sdk/js).
//
// The runbook's diagnosis, read-only:
//
//     docker-compose ps                            # step 1: each backend's state, health, restarts, OOM
//     curl http://localhost:8404/stats             # the load balancer (when --param proxy=URL)
//     docker exec toolboxai-backend1 curl …/health # step 2: each backend's health endpoint
//     docker stats                                 # step 3: memory use against the limit
//     docker logs toolboxai-backend1 --tail 100    # step 4: recent lines matching errors
//
// One step each; the findings go in one table and in facts. Exit 0 when
// every backend is running, healthy and answers its health endpoint (error
// lines are evidence, not a fault); otherwise a failure naming the first
// failing step, with the runbook's next move. Changes nothing.

import {
  Access,
  NotFound,
  Timeout,
  Unavailable,
  containersNamed,
  docker,
  exportPlugin,
  fail,
  httpGet,
  manifest,
  outcome,
  publishedUrl,
  step,
  table,
  warn,
} from 'drhost-sdk';

// What the diagnosis reports instead of stopping: the service is at fault,
// not the plugin or its grants (those still end the run at once).
const SERVICE_FAULTS = [Unavailable, Timeout, NotFound];

const isServiceFault = (e) => SERVICE_FAULTS.some((kind) => e instanceof kind);

function describePlugin() {
  return manifest(
    'svc-diagnose',
    '0.1.0',
    "Runbook scenario 4 diagnosis (application service failure): each backend's state, health, /health, " +
      'memory against its limit, and recent error log lines; changes nothing',
  )
    .param('containers', 'glob over the backend containers', 'toolboxai-backend*')
    .param('proxy', "the load balancer's URL, probed before the backends (the runbook's HAProxy check); empty: none", '')
    .param('health-path', "HTTP path probed on each backend's published ports", '/health')
    .param('grep', 'what to look for in the logs: a regular expression, case-insensitive', 'error|exception|traceback')
    .param('log-lines', 'newest log lines read per backend (the runbook: --tail 100)', '100')
    .need('docker', 'toolboxai-backend*', Access.READ, 'inspects the backends, reads their stats and logs')
    .need('http', '127.0.0.1:*', Access.READ, "probes each backend's health endpoint");
}

const MiB = 1024 * 1024;

/** What the steps found: one table row per check, facts, and problems (each with its step). */
class Diagnosis {
  constructor() {
    this.findings = table('diagnosis', ['OK', 'CHECK', 'CONTAINER', 'STATE', 'DETAIL']);
    this.facts = {};
    this.problems = [];
  }

  /** Step 1: each backend's state, Docker health, restarts and OOM kills; the inspected containers. */
  checkStatus(glob) {
    return step(`check status of ${glob}`, (s) => {
      const containers = docker.listContainers(containersNamed(glob)).map((c) => docker.inspectContainer(c.name));
      if (containers.length === 0) {
        throw fail(`no container matches \`${glob}\` (or none is granted)`, {
          hint: 'check --param containers and the [[plugins.svc-diagnose.docker]] grant',
        });
      }
      const down = [];
      for (const c of containers) {
        const ok = c.running && c.health !== 'unhealthy' && !c.oomKilled;
        const health = c.health ?? '-';
        const detail = c.running
          ? `health ${health}, ${c.restartCount} restart(s)`
          : `exit code ${c.exitCode}${c.oomKilled ? ', killed for memory (OOM)' : ''}${c.error ? `, ${c.error}` : ''}`;
        this.findings.row(ok ? 'yes' : 'NO', 'status', c.name, c.state, detail);
        if (!ok) {
          down.push(c.name);
        }
      }
      s.note(`${containers.length} checked, ${down.length} not running or unhealthy`);
      this.facts.backends = containers.length;
      this.facts['backends-down'] = down.length;
      if (down.length > 0) {
        s.fail();
        this.problems.push([`not running or unhealthy: ${down.join(', ')}`, s.name]);
      }
      return containers;
    });
  }

  /** The load balancer answers at `url` (any status below 500). */
  checkProxy(url) {
    step(`probe the load balancer ${url}`, (s) => {
      let seen;
      try {
        seen = String(httpGet(url, 3000).status);
      } catch (e) {
        if (!isServiceFault(e)) {
          throw e;
        }
        seen = e.kind;
      }
      const ok = /^[1-4]\d\d$/.test(seen);
      s.note(`answered ${seen}`);
      this.findings.row(ok ? 'yes' : 'NO', 'proxy', '-', seen, url);
      this.facts.proxy = seen;
      if (!ok) {
        s.fail();
        this.problems.push([`the load balancer ${url} answered ${seen}`, s.name]);
      }
    });
  }

  /** Step 2: 200 from the health path on every published TCP port of each running backend. */
  checkHealth(containers, path) {
    step(`check ${path} of each backend`, (s) => {
      const failing = [];
      for (const c of containers.filter((c) => c.running)) {
        for (const port of c.ports.filter((p) => p.containerPort.endsWith('/tcp'))) {
          const url = publishedUrl(c, port.containerPort, path);
          if (url === undefined) {
            continue;
          }
          let seen;
          try {
            const response = httpGet(url, 3000);
            seen = String(response.status);
          } catch (e) {
            if (!isServiceFault(e)) {
              throw e;
            }
            seen = e.kind;
          }
          this.findings.row(seen === '200' ? 'yes' : 'NO', 'health', c.name, seen, url);
          if (seen !== '200') {
            failing.push(`${c.name} (${seen})`);
          }
        }
      }
      s.note(failing.length === 0 ? 'every health endpoint answered 200' : `failing: ${failing.join(', ')}`);
      this.facts['health-failing'] = failing.length;
      if (failing.length > 0) {
        s.fail();
        this.problems.push([`health endpoint failing: ${failing.join(', ')}`, s.name]);
      }
    });
  }

  /** Step 3: memory use against the limit (over 90 % is a warning, not a fault). */
  checkResources(containers) {
    step('check resource usage', (s) => {
      for (const c of containers.filter((c) => c.running)) {
        const stats = docker.containerStats(c.name);
        const used = Number(stats.memoryUsage);
        const limit = Number(c.memoryLimit); // 0: none set (stats would show the machine's memory)
        const share = limit > 0 ? used / limit : 0;
        const detail = `${(used / MiB).toFixed(1)} MiB of ${limit > 0 ? `${(limit / MiB).toFixed(0)} MiB` : 'no limit'}, CPU ${stats.cpuPercent.toFixed(1)} %`;
        this.findings.row(share < 0.9 ? 'yes' : 'NO', 'memory', c.name, `${Math.round(share * 100)} %`, detail);
        if (share >= 0.9) {
          warn(`${c.name} uses ${Math.round(share * 100)} % of its memory limit`);
        }
      }
      s.note(`${containers.filter((c) => c.running).length} sampled`);
    });
  }

  /** Step 4: the backends' newest log lines matching `grep`, as a table. */
  scanLogs(containers, grep, lines) {
    const matches = table(`backend log lines matching /${grep}/i (newest last)`, ['CONTAINER', 'LINE']);
    step(`scan backend logs for ${grep}`, (s) => {
      // An invalid pattern fails this step with JavaScript's own message.
      const pattern = new RegExp(grep, 'i');
      const tail = lines();
      let total = 0;
      for (const c of containers) {
        const found = docker.containerLogs(c.name, tail, undefined, undefined).lines.filter((l) => pattern.test(l));
        total += found.length;
        for (const line of found.slice(-5)) {
          matches.row(c.name, line.slice(0, 200));
        }
        if (found.length > 0) {
          warn(`${c.name}: ${found.length} log line(s) match /${grep}/i`);
        }
      }
      s.note(`${total} matching line(s) in the newest ${tail} of ${containers.length} backend(s)`);
      this.facts['log-matches'] = total;
    });
    return matches;
  }
}

function diagnose(params) {
  const diagnosis = new Diagnosis();
  const containers = diagnosis.checkStatus(params.get('containers'));
  const proxy = params.optional('proxy');
  if (proxy !== undefined) {
    diagnosis.checkProxy(proxy);
  }
  diagnosis.checkHealth(containers, params.get('health-path'));
  diagnosis.checkResources(containers);
  const matches = diagnosis.scanLogs(containers, params.get('grep'), () =>
    params.integer('log-lines', { minimum: 1 }),
  );

  if (diagnosis.problems.length > 0) {
    const firstStep = diagnosis.problems[0][1];
    const failure = fail(diagnosis.problems.map(([problem]) => problem).join('; '), {
      step: firstStep,
      hint: 'runbook scenario 4: run service-recover (restart, then roll back) for these backends; the log lines show what they saw',
    });
    for (const [name, value] of Object.entries(diagnosis.facts)) {
      failure.fact(name, value);
    }
    throw failure.table(diagnosis.findings).table(matches);
  }
  return outcome(
    `${containers.length} backend(s) running and healthy; ${diagnosis.facts['log-matches']} log line(s) match`,
    diagnosis.facts,
  )
    .table(diagnosis.findings)
    .table(matches);
}

export const { describe, run } = exportPlugin(describePlugin, diagnose);
