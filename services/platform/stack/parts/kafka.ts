import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FlywheelError } from '../../errors.ts';
import { findJava } from '../java.ts';
import { ensureMaven, freshDir, isComplete, jarsPom, markComplete, runMaven } from '../maven.ts';
import type { PartContext, StackPart } from '../part.ts';
import { kafkaAnswers } from '../probes.ts';
import { spawnDetached } from '../processes.ts';

/** The logging backend Kafka's POM leaves out differs by major version (reload4j in 3.x, log4j2 in 4.x). */
function loggingJars(version: string): Array<[string, string, string]> {
  return version.startsWith('3.')
    ? [
        ['org.slf4j', 'slf4j-reload4j', '1.7.36'],
        ['ch.qos.reload4j', 'reload4j', '1.2.25'],
      ]
    : [
        ['org.apache.logging.log4j', 'log4j-slf4j-impl', '2.24.3'],
        ['org.apache.logging.log4j', 'log4j-core', '2.24.3'],
        ['org.apache.logging.log4j', 'log4j-api', '2.24.3'],
      ];
}

/** Single-node KRaft broker+controller on loopback; internal topics sized for one node. */
function serverProperties(port: number, controllerPort: number, dataDir: string): string {
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names=CONTROLLER',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    'inter.broker.listener.name=PLAINTEXT',
    `log.dirs=${dataDir}`,
    'num.partitions=4',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=4',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=4',
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=true',
    'log.retention.hours=24',
    '',
  ].join('\n');
}

const LOG4J = `log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.BrokerServer=INFO
`;

const LOG4J2 = `<Configuration status="WARN"><Appenders><Console name="out" target="SYSTEM_OUT"><PatternLayout pattern="[%d] %p %m (%c)%n"/></Console></Appenders>
<Loggers><Root level="warn"><AppenderRef ref="out"/></Root><Logger name="kafka.server.BrokerServer" level="info"/></Loggers></Configuration>
`;

export function kafkaPart(ctx: PartContext): StackPart {
  const { stack } = ctx.config;
  const home = join(ctx.cacheDir, `kafka-${stack.kafkaVersion}`);
  const runDir = join(ctx.runDir, 'kafka');
  const javaOpts = { configured: stack.java, jvmDirs: ctx.jvmDirs };
  const logConfig = stack.kafkaVersion.startsWith('3.')
    ? `-Dlog4j.configuration=file:${join(runDir, 'log4j.properties')}`
    : `-Dlog4j2.configurationFile=${join(runDir, 'log4j2.xml')}`;

  return {
    name: 'kafka',
    ports: [stack.kafkaPort, stack.kafkaControllerPort],
    portSetting: 'FLYWHEEL_KAFKA_PORT / FLYWHEEL_KAFKA_CONTROLLER_PORT',
    answers: () => kafkaAnswers(stack.kafkaPort),
    ready: () => kafkaAnswers(stack.kafkaPort),

    async provision() {
      findJava(17, javaOpts, `Kafka ${stack.kafkaVersion}`);
      if (isComplete(home)) return;
      ensureMaven(stack.maven);
      ctx.logger.info('fetching Kafka jars from Maven Central', { version: stack.kafkaVersion });
      freshDir(home);
      const deps: Array<[string, string, string]> = [
        ['org.apache.kafka', 'kafka_2.13', stack.kafkaVersion],
        ...loggingJars(stack.kafkaVersion),
      ];
      writeFileSync(join(home, 'pom.xml'), jarsPom('kafka-jars', deps));
      await runMaven(
        stack.maven,
        ['dependency:copy-dependencies', `-DoutputDirectory=${join(home, 'libs')}`],
        home,
        `Kafka ${stack.kafkaVersion}`,
      );
      markComplete(home);
    },

    async start() {
      const java = findJava(17, javaOpts, `Kafka ${stack.kafkaVersion}`);
      // A local dev broker starts empty each time: no stale topics or offsets leak between runs (unless
      // asked to keep its data: then a restart continues on the same log folder, already formatted).
      if (!ctx.options.keepKafkaData) rmSync(runDir, { recursive: true, force: true });
      const dataDir = join(runDir, 'data');
      mkdirSync(dataDir, { recursive: true });
      const props = join(runDir, 'server.properties');
      writeFileSync(props, serverProperties(stack.kafkaPort, stack.kafkaControllerPort, dataDir));
      writeFileSync(join(runDir, 'log4j.properties'), LOG4J);
      writeFileSync(join(runDir, 'log4j2.xml'), LOG4J2);
      const classpath = `${join(home, 'libs')}/*`;
      const clusterId = newClusterId();
      // A kept log folder is formatted already (with its own cluster id, which a new format refuses).
      const formatted = ctx.options.keepKafkaData && existsSync(join(dataDir, 'meta.properties'));
      const format = formatted
        ? { status: 0, stderr: '', stdout: '' }
        : spawnSync(
            java.path,
            [
              '-cp',
              classpath,
              logConfig,
              'kafka.tools.StorageTool',
              'format',
              '-t',
              clusterId,
              '-c',
              props,
              '--ignore-formatted',
            ],
            { encoding: 'utf8', timeout: 60_000 },
          );
      if (format.status !== 0) {
        throw new FlywheelError(
          'FW_STACK_NOT_READY',
          `Formatting Kafka's log folder failed:\n${format.stderr || format.stdout}`,
        );
      }
      return spawnDetached(
        java.path,
        [
          '-Xms256m',
          '-Xmx1g',
          '-XX:+UseG1GC',
          '-Djava.awt.headless=true',
          logConfig,
          '-cp',
          classpath,
          'kafka.Kafka',
          props,
        ],
        { logFile: join(ctx.runDir, 'logs', 'kafka.log') },
      );
    },
  };
}

/**
 * A KRaft cluster id: 16 random bytes, base64url. One in 64 such strings starts with "-", which the
 * storage tool's argument parser reads as an option ("--cluster-id: expected one argument"); Kafka's own
 * Uuid.randomUuid() draws again in that case, and so does this.
 */
export function newClusterId(random: () => Buffer = () => randomBytes(16)): string {
  for (;;) {
    const id = random().toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}
