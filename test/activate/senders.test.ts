import { CustomerProfilesClient, PutProfileObjectCommand } from '@aws-sdk/client-customer-profiles';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { CreateDataDeletionJobCommand, PersonalizeClient } from '@aws-sdk/client-personalize';
import {
  PersonalizeEventsClient,
  PutEventsCommand as PutInteractionsCommand,
  PutUsersCommand,
} from '@aws-sdk/client-personalize-events';
import {
  DeleteUserEndpointsCommand,
  PinpointClient,
  UpdateEndpointsBatchCommand,
} from '@aws-sdk/client-pinpoint';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  CreateContactCommand,
  DeleteContactCommand,
  SESv2Client,
  UpdateContactCommand,
} from '@aws-sdk/client-sesv2';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  DeliveryError,
  deleteAtDestination,
  SENDERS,
  type Senders,
} from '../../adapters/activate/senders.js';
import { type Destination, DestinationInputSchema } from '../../core/activate/destinations.js';
import { planDelivery } from '../../core/activate/plan.js';
import type { MembershipDelta } from '../../core/segments/delta.js';

const pinpoint = mockClient(PinpointClient);
const eventbridge = mockClient(EventBridgeClient);
const personalize = mockClient(PersonalizeEventsClient);
const ses = mockClient(SESv2Client);
const profiles = mockClient(CustomerProfilesClient);
const personalizeAdmin = mockClient(PersonalizeClient);
const s3mock = mockClient(S3Client);

const opts = { region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 1 };
const senders = (): Senders => ({
  pinpoint: new PinpointClient(opts),
  personalize: new PersonalizeEventsClient(opts),
  personalizeAdmin: new PersonalizeClient(opts),
  ses: new SESv2Client(opts),
  customerProfiles: new CustomerProfilesClient(opts),
  eventbridge: new EventBridgeClient(opts),
  s3: new S3Client(opts),
  fetch,
});
const destination = (type: string, settings: Record<string, unknown>): Destination => ({
  ...DestinationInputSchema.parse({ type, settings }),
  destinationId: 'dst_1',
  segmentId: 'seg_1',
  createdAt: '2026-01-01T00:00:00Z',
});
const delta = (i: number, kind: MembershipDelta['kind'] = 'entered', consent = true): MembershipDelta => ({
  deltaId: `d${i}`,
  segmentId: 'seg_1',
  profileId: `p_${i}`,
  kind,
  at: '2026-01-01T00:00:00Z',
  source: 'run-1',
  traits: { email: `u${i}@example.com`, plan: 'pro' },
  identities: [{ type: 'user_id', value: `u${i}` }],
  consent: { marketing: consent },
});

beforeEach(() => {
  for (const m of [pinpoint, eventbridge, personalize, ses, profiles, personalizeAdmin, s3mock]) m.reset();
});

describe('AWS destinations (exact commands)', () => {
  it('Pinpoint: 250 members make 3 UpdateEndpointsBatch calls of at most 100', async () => {
    pinpoint.on(UpdateEndpointsBatchCommand).resolves({ MessageBody: { Message: 'Accepted' } });
    await SENDERS.pinpoint(
      destination('pinpoint', { applicationId: 'app1' }),
      Array.from({ length: 250 }, (_, i) => delta(i)),
      senders(),
    );
    const calls = pinpoint.commandCalls(UpdateEndpointsBatchCommand);
    expect(calls.map((c) => c.args[0].input.EndpointBatchRequest!.Item!.length)).toEqual([100, 100, 50]);
    expect(calls[0]!.args[0].input).toMatchObject({ ApplicationId: 'app1' });
    expect(calls[0]!.args[0].input.EndpointBatchRequest!.Item![0]).toEqual({
      Id: 'p_0-email',
      ChannelType: 'EMAIL',
      Address: 'u0@example.com',
      Attributes: { segment_seg_1: ['true'] },
      User: { UserId: 'u0', UserAttributes: { email: ['u0@example.com'], plan: ['pro'] } },
    });
  });

  it('Pinpoint: an exit sets the attribute to false and opts out when configured', async () => {
    pinpoint.on(UpdateEndpointsBatchCommand).resolves({});
    await SENDERS.pinpoint(
      destination('pinpoint', { applicationId: 'app1', onExit: 'opt-out' }),
      [delta(1, 'exited')],
      senders(),
    );
    expect(
      pinpoint.commandCalls(UpdateEndpointsBatchCommand)[0]!.args[0].input.EndpointBatchRequest!.Item![0],
    ).toMatchObject({
      Attributes: { segment_seg_1: ['false'] },
      OptOut: 'ALL',
    });
  });

  it('EventBridge: entries of at most 10, retrying only the failed entries', async () => {
    eventbridge
      .on(PutEventsCommand)
      .resolvesOnce({
        FailedEntryCount: 1,
        Entries: [
          { EventId: '1' },
          { ErrorCode: 'ThrottlingException' },
          ...Array.from({ length: 8 }, () => ({ EventId: 'x' })),
        ],
      })
      .resolves({ FailedEntryCount: 0, Entries: [] });
    await SENDERS.eventbridge(
      destination('eventbridge', { eventBusName: 'bus' }),
      Array.from({ length: 12 }, (_, i) => delta(i)),
      senders(),
    );
    const sizes = eventbridge.commandCalls(PutEventsCommand).map((c) => c.args[0].input.Entries!.length);
    expect(sizes).toEqual([10, 1, 2]);
    const retried = eventbridge.commandCalls(PutEventsCommand)[1]!.args[0].input.Entries![0]!;
    expect(JSON.parse(retried.Detail!).deltaId).toBe('d1');
    expect(retried).toMatchObject({
      EventBusName: 'bus',
      Source: 'cdp.audiences',
      DetailType: 'audience.entered',
    });
  });

  it('Personalize: PutUsers with at most 10 users', async () => {
    personalize.on(PutUsersCommand).resolves({});
    const arn = 'arn:aws:personalize:us-east-1:111111111111:dataset/g/USERS';
    await SENDERS.personalize(
      destination('personalize', { datasetArn: arn, traits: ['plan'] }),
      Array.from({ length: 11 }, (_, i) => delta(i)),
      senders(),
    );
    const calls = personalize.commandCalls(PutUsersCommand);
    expect(calls.map((c) => c.args[0].input.users!.length)).toEqual([10, 1]);
    expect(calls[0]!.args[0].input.users![0]).toEqual({
      userId: 'u0',
      properties: JSON.stringify({ plan: 'pro', segment_seg_1: true }),
    });
    expect(calls[0]!.args[0].input.datasetArn).toBe(arn);
  });

  it('SES: creates contacts on enter, updates an existing one, unsubscribes on exit', async () => {
    ses.on(CreateContactCommand).resolves({});
    ses
      .on(CreateContactCommand, { EmailAddress: 'u2@example.com' })
      .rejects(Object.assign(new Error('exists'), { name: 'AlreadyExistsException' }));
    ses.on(UpdateContactCommand).resolves({});
    const dest = destination('ses', { contactListName: 'news', topics: ['weekly'] });
    await SENDERS.ses(dest, [delta(1), delta(2), delta(3, 'exited')], senders());
    expect(ses.commandCalls(CreateContactCommand).map((c) => c.args[0].input.EmailAddress)).toEqual([
      'u1@example.com',
      'u2@example.com',
    ]);
    expect(ses.commandCalls(CreateContactCommand)[0]!.args[0].input.TopicPreferences).toEqual([
      { TopicName: 'weekly', SubscriptionStatus: 'OPT_IN' },
    ]);
    const updates = ses.commandCalls(UpdateContactCommand).map((c) => c.args[0].input);
    expect(updates).toEqual([
      expect.objectContaining({ EmailAddress: 'u2@example.com', UnsubscribeAll: false }),
      expect.objectContaining({
        EmailAddress: 'u3@example.com',
        TopicPreferences: [{ TopicName: 'weekly', SubscriptionStatus: 'OPT_OUT' }],
      }),
    ]);
  });

  it('Connect Customer Profiles: one PutProfileObject per member with the segment attribute', async () => {
    profiles.on(PutProfileObjectCommand).resolves({ ProfileObjectUniqueKey: 'k' });
    await SENDERS['customer-profiles'](
      destination('customer-profiles', { domainName: 'crm' }),
      [delta(1), delta(2, 'exited')],
      senders(),
    );
    const calls = profiles.commandCalls(PutProfileObjectCommand).map((c) => c.args[0].input);
    expect(calls).toHaveLength(2);
    expect(calls[0]).toMatchObject({ DomainName: 'crm', ObjectTypeName: 'CdpAudienceMembership' });
    expect(JSON.parse(calls[1]!.Object!)).toMatchObject({
      cdpProfileId: 'p_2',
      segmentId: 'seg_1',
      member: false,
    });
  });

  it('retries throttling in the SDK, then reports it as retryable; a permanent error is not retryable', async () => {
    const throttled = Object.assign(new Error('slow down'), {
      name: 'TooManyRequestsException',
      $metadata: { httpStatusCode: 429 },
    });
    pinpoint.on(UpdateEndpointsBatchCommand).rejects(throttled);
    const err = await SENDERS.pinpoint(
      destination('pinpoint', { applicationId: 'app1' }),
      [delta(1)],
      senders(),
    ).catch((e) => e);
    expect(err).toBeInstanceOf(DeliveryError);
    expect(err.retryable).toBe(true);
    pinpoint.reset();
    pinpoint.on(UpdateEndpointsBatchCommand).rejects(
      Object.assign(new Error('no such app'), {
        name: 'NotFoundException',
        $metadata: { httpStatusCode: 404 },
      }),
    );
    const permanent = await SENDERS.pinpoint(
      destination('pinpoint', { applicationId: 'app1' }),
      [delta(1)],
      senders(),
    ).catch((e) => e);
    expect(permanent.retryable).toBe(false);
  });

  it('deletes a person at the destination for GDPR', async () => {
    pinpoint.on(DeleteUserEndpointsCommand).resolves({});
    ses.on(DeleteContactCommand).resolves({});
    const ids = [
      { type: 'user_id', value: 'u9' },
      { type: 'email', value: 'u9@example.com' },
    ];
    await deleteAtDestination(destination('pinpoint', { applicationId: 'app1' }), 'p_9', ids, senders());
    await deleteAtDestination(destination('ses', { contactListName: 'news' }), 'p_9', ids, senders());
    expect(pinpoint.commandCalls(DeleteUserEndpointsCommand)[0]!.args[0].input).toEqual({
      ApplicationId: 'app1',
      UserId: 'u9',
    });
    expect(ses.commandCalls(DeleteContactCommand)[0]!.args[0].input).toEqual({
      ContactListName: 'news',
      EmailAddress: 'u9@example.com',
    });
  });
});

describe('Personalize interactions and deletion', () => {
  it('sends one PutEvents per person with the segment as the item when a tracker is set', async () => {
    personalize.on(PutUsersCommand).resolves({});
    personalize.on(PutInteractionsCommand).resolves({});
    const arn = 'arn:aws:personalize:us-east-1:111111111111:dataset/g/USERS';
    await SENDERS.personalize(
      destination('personalize', { datasetArn: arn, trackingId: 'trk-1' }),
      [delta(1), delta(2, 'exited')],
      senders(),
    );
    const calls = personalize.commandCalls(PutInteractionsCommand).map((c) => c.args[0].input);
    expect(calls).toHaveLength(2);
    expect(calls[0]).toMatchObject({
      trackingId: 'trk-1',
      userId: 'u1',
      sessionId: 'p_1',
      eventList: [{ eventId: 'd1', eventType: 'segment_entered', itemId: 'seg_1' }],
    });
    expect(calls[1]!.eventList![0]!.eventType).toBe('segment_exited');
  });

  it('deletes through a data deletion job over an S3 list of user ids', async () => {
    s3mock.on(PutObjectCommand).resolves({});
    personalizeAdmin.on(CreateDataDeletionJobCommand).resolves({ dataDeletionJobArn: 'arn:job' });
    const dest = destination('personalize', {
      datasetArn: 'arn:aws:personalize:us-east-1:111111111111:dataset/g/USERS',
      datasetGroupArn: 'arn:aws:personalize:us-east-1:111111111111:dataset-group/g',
      deletionRoleArn: 'arn:aws:iam::111111111111:role/cdp-personalize',
    });
    await deleteAtDestination(dest, 'p_9', [{ type: 'user_id', value: 'u9' }], {
      ...senders(),
      exportsBucket: 'exports',
    });
    expect(s3mock.commandCalls(PutObjectCommand)[0]!.args[0].input).toMatchObject({
      Bucket: 'exports',
      Key: 'personalize-deletions/dst_1/p_9.csv',
      Body: 'USER_ID\nu9\n',
    });
    expect(personalizeAdmin.commandCalls(CreateDataDeletionJobCommand)[0]!.args[0].input).toEqual({
      jobName: 'cdp-delete-p_9',
      datasetGroupArn: 'arn:aws:personalize:us-east-1:111111111111:dataset-group/g',
      dataSource: { dataLocation: 's3://exports/personalize-deletions/dst_1/p_9.csv' },
      roleArn: 'arn:aws:iam::111111111111:role/cdp-personalize',
    });
  });
});

describe('delivery plan', () => {
  it('skips members without consent and duplicates, always sends exits', () => {
    const dest = destination('webhook', { url: 'https://example.com/hook' });
    const plan = planDelivery(
      dest,
      [delta(1), delta(2, 'entered', false), delta(3, 'exited', false), delta(4)],
      new Set(['d4']),
    );
    expect(plan.send.map((d) => d.deltaId)).toEqual(['d1', 'd3']);
    expect(plan.skipped.map((d) => d.deltaId)).toEqual(['d2']);
    expect(plan.duplicates.map((d) => d.deltaId)).toEqual(['d4']);
  });
});
