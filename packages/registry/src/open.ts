import { type Config, usageError } from '@imagewright/core';
import type { Credentials, Registry } from './registry';

/** What AWS ECR's GetAuthorizationToken gave: the registry to push to and its basic credentials. */
export interface EcrLogin {
  /** host[:port] of the token's proxyEndpoint: where the Engine pushes and pulls. */
  host: string;
  credentials: Credentials;
  expiresAt?: Date;
  /** Who we are to AWS: the assumed role's ARN, else the caller's. Never a secret. */
  identity: string;
}

/** The registry of the config: REGISTRY when set (it wins), else ECR from ECR_ACCOUNT_ID/AWS_REGION. */
export function openRegistry(config: Pick<Config, 'REGISTRY' | 'REGISTRY_HOST' | 'ECR_ACCOUNT_ID' | 'AWS_REGION' | 'ADMIN_ARN'>, env: NodeJS.ProcessEnv = process.env): Registry {
  if (config.REGISTRY) {
    const { DistributionRegistry } = require('./distribution') as typeof import('./distribution');
    return new DistributionRegistry(config.REGISTRY, { env });
  }
  if (config.ECR_ACCOUNT_ID && config.AWS_REGION) {
    // Loaded only here: the AWS SDK costs start-up time that other commands must not pay.
    const { EcrRegistry } = require('./ecr') as typeof import('./ecr');
    return new EcrRegistry({ accountId: config.ECR_ACCOUNT_ID, region: config.AWS_REGION, adminArn: config.ADMIN_ARN, env });
  }
  throw usageError('no registry is configured: set REGISTRY=host[:port][/path], or ECR_ACCOUNT_ID and AWS_REGION');
}
