import {
  InvalidParamsError,
  isMemberState,
  isRecord,
  isReplicationSetting,
  isVersion,
  type KVRecord,
  MAX_LIST_LIMIT,
  MAX_REPLICAS,
  type MemberState,
  type Proposal,
  RING_SIZE,
  type RingKeysParams,
  type StreamParams,
  type SyncParams,
  type Version,
} from '@kvdb/core';
import {
  optionalKeyText,
  optionalLimit,
  type Params,
  requireArray,
  requireBoolean,
  requireKey,
  requireRecord,
  requireString,
} from '../params.js';
import { nodeStats } from './stats.js';
import type { MethodDefinition } from './types.js';

const isKey = (item: unknown): item is string => typeof item === 'string' && item.length > 0;
const isEntry = (item: unknown): item is [string, KVRecord] =>
  Array.isArray(item) && item.length === 2 && isKey(item[0]) && isRecord(item[1]);
const isSegment = (item: unknown): item is number => Number.isInteger(item) && (item as number) >= 0;
const isRange = (item: unknown): item is [number, number] =>
  Array.isArray(item) &&
  item.length === 2 &&
  Number.isSafeInteger(item[0]) &&
  Number.isSafeInteger(item[1]) &&
  item[0] >= 0 &&
  item[0] <= item[1] &&
  item[1] < RING_SIZE;
/** The hex digits of the position at the start of a ring key. */
const RING_KEY_DIGITS = 12;
const isPurge = (item: unknown): item is [string, Version] =>
  Array.isArray(item) && item.length === 2 && isKey(item[0]) && isVersion(item[1]);

/** A serial round's proposal: a ballot, a record or null, and the version it was decided on. */
function requireProposal(params: Params): Proposal {
  const proposal = params.get('proposal');
  if (typeof proposal === 'object' && proposal !== null) {
    const { ballot, record, basis } = proposal as Record<string, unknown>;
    const basisOk = basis === undefined || basis === null || isVersion(basis);
    if (isVersion(ballot) && (record === null || isRecord(record)) && basisOk) {
      return { ballot, record, basis: (basis as Version | null | undefined) ?? null };
    }
  }
  throw new InvalidParamsError(
    'Expected `proposal` to be {ballot, record, basis} (a version, a record or null, a version or null)',
  );
}

function requireMember(value: unknown, name: string): MemberState {
  if (!isMemberState(value)) throw new InvalidParamsError(`Expected \`${name}\` to be a member state`);
  return value;
}

/**
 * Calls between nodes. They check their input as strictly as public methods: a peer is not trusted blindly, and a
 * malformed peer call changes nothing. Each then goes straight to the handler of the part that owns it
 * (`ClusterNode.peerHandlers`), which answers at once when it can.
 */
export const peerMethods: MethodDefinition[] = [
  {
    name: 'peer.ping',
    params: ['from', 'updates'],
    call: (params, { peer }) => {
      const from = requireMember(params.get('from'), 'from');
      const updates = requireArray(params, 'updates', isMemberState, 'member states');
      return peer['peer.ping']({ from, updates });
    },
  },
  {
    name: 'peer.ping_req',
    params: ['from', 'target', 'updates'],
    call: (params, { peer }) => {
      const from = requireMember(params.get('from'), 'from');
      const updates = requireArray(params, 'updates', isMemberState, 'member states');
      return peer['peer.ping_req']({ from, target: requireString(params, 'target'), updates });
    },
  },
  {
    name: 'peer.sync',
    params: ['members', 'replication', 'time'],
    call: (params, { peer }) => {
      const request: SyncParams = {
        members: requireArray(params, 'members', isMemberState, 'member states'),
      };
      const time = params.get('time');
      if (time !== undefined) {
        if (!Number.isSafeInteger(time) || (time as number) < 0) {
          throw new InvalidParamsError('Expected `time` to be a wall-clock time in ms, an integer from 0');
        }
        request.time = time as number;
      }
      const replication = params.get('replication');
      if (replication !== undefined) {
        if (!isReplicationSetting(replication)) {
          throw new InvalidParamsError(
            `Expected \`replication\` to be a replication setting: \`replicas\` and \`target\` (if given, another) integers from 1 to ${MAX_REPLICAS}, \`stamp\` an integer from 0, \`by\` a member address`,
          );
        }
        request.replication = replication;
      }
      return peer['peer.sync'](request);
    },
  },
  {
    name: 'peer.get',
    params: ['key', 'known'],
    call: (params, { peer, limits }) => {
      const key = requireKey(params, limits);
      const known = params.get('known');
      if (known === undefined) return peer['peer.get']({ key });
      if (!isVersion(known)) throw new InvalidParamsError('Expected `known` to be a version');
      return peer['peer.get']({ key, known });
    },
  },
  {
    name: 'peer.put',
    params: ['key', 'record'],
    call: (params, { peer, limits }) => {
      const key = requireKey(params, limits);
      return peer['peer.put']({ key, record: requireRecord(params) });
    },
  },
  {
    name: 'peer.get_many',
    params: ['keys', 'maxBytes'],
    call: (params, { peer }) =>
      peer['peer.get_many']({
        keys: requireArray(params, 'keys', isKey, 'keys'),
        maxBytes: optionalLimit(params, 'maxBytes', Number.MAX_SAFE_INTEGER),
      }),
  },
  {
    name: 'peer.put_many',
    params: ['entries'],
    call: (params, { peer }) =>
      peer['peer.put_many']({
        entries: requireArray(params, 'entries', isEntry, '[key, record] pairs'),
      }),
  },
  {
    name: 'peer.keys',
    params: ['prefix', 'after', 'limit'],
    call: (params, { peer, limits }) =>
      peer['peer.keys']({
        prefix: optionalKeyText(params, 'prefix', limits, { allowEmpty: true }),
        after: optionalKeyText(params, 'after', limits),
        limit: optionalLimit(params, 'limit', MAX_LIST_LIMIT),
      }),
  },
  {
    name: 'peer.ring_keys',
    params: ['ranges', 'after', 'prefix', 'limit'],
    call: (params, { peer, limits }) => {
      const ranges = requireArray(params, 'ranges', isRange, '[low, high] ring positions');
      if (!ranges.every(([low], i) => i === 0 || low > (ranges[i - 1] as [number, number])[1])) {
        throw new InvalidParamsError('Expected `ranges` to be in ring order, none overlapping');
      }
      const request: RingKeysParams = {
        ranges,
        limit: optionalLimit(params, 'limit', MAX_LIST_LIMIT) ?? MAX_LIST_LIMIT,
      };
      const after = optionalKeyText(params, 'after', limits, { extraBytes: RING_KEY_DIGITS });
      const prefix = optionalKeyText(params, 'prefix', limits, { allowEmpty: true });
      if (after !== undefined) request.after = after;
      if (prefix !== undefined) request.prefix = prefix;
      return peer['peer.ring_keys'](request);
    },
  },
  {
    name: 'peer.digest',
    params: ['from', 'ring', 'detail'],
    call: (params, { peer }) =>
      peer['peer.digest']({
        from: requireString(params, 'from'),
        ring: requireString(params, 'ring'),
        detail: requireBoolean(params, 'detail'),
      }),
  },
  {
    name: 'peer.range',
    params: ['ring', 'segments', 'after', 'limit'],
    call: (params, { peer, limits }) =>
      peer['peer.range']({
        ring: requireString(params, 'ring'),
        segments: requireArray(params, 'segments', isSegment, 'segment numbers'),
        after: optionalKeyText(params, 'after', limits),
        limit: optionalLimit(params, 'limit', MAX_LIST_LIMIT),
      }),
  },
  {
    name: 'peer.stream',
    params: ['ring', 'segments', 'after', 'maxBytes'],
    call: (params, { peer, limits }) => {
      const request: StreamParams = {
        ring: requireString(params, 'ring'),
        segments: requireArray(params, 'segments', isSegment, 'segment numbers'),
      };
      const after = optionalKeyText(params, 'after', limits);
      const maxBytes = optionalLimit(params, 'maxBytes', Number.MAX_SAFE_INTEGER);
      if (after !== undefined) request.after = after;
      if (maxBytes !== undefined) request.maxBytes = maxBytes;
      return peer['peer.stream'](request);
    },
  },
  {
    name: 'peer.prepare',
    params: ['key', 'ballot'],
    call: (params, { peer, limits }) => {
      const ballot = params.get('ballot');
      if (!isVersion(ballot)) throw new InvalidParamsError('Expected `ballot` to be a version');
      return peer['peer.prepare']({ key: requireKey(params, limits), ballot });
    },
  },
  {
    name: 'peer.propose',
    params: ['key', 'proposal'],
    call: (params, { peer, limits }) =>
      peer['peer.propose']({ key: requireKey(params, limits), proposal: requireProposal(params) }),
  },
  {
    name: 'peer.commit',
    params: ['key', 'proposal'],
    call: (params, { peer, limits }) =>
      peer['peer.commit']({ key: requireKey(params, limits), proposal: requireProposal(params) }),
  },
  {
    name: 'peer.purge',
    params: ['entries'],
    call: (params, { peer }) =>
      peer['peer.purge']({
        entries: requireArray(params, 'entries', isPurge, '[key, version] pairs'),
      }),
  },
  // With the server's counters, as `stats` has them: more than the cluster node's own handler knows.
  { name: 'peer.stats', params: [], call: (_params, context) => nodeStats(context) },
];
