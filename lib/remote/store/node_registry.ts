/**
 * What a store shared by many nodes keeps besides users: each node's run and heartbeat, and the
 * loads the nodes report of their users. The store implements {@linkcode NodeRegistry};
 * `lib/remote/nodes/` runs the beat on it.
 */

/** A node whose last heartbeat is older than this is not alive (its load no longer counts). */
export const NODE_ALIVE_MS = 3000;
/** One user's traffic on one node over the last beat. */
export interface UserLoad {
  userId: number;
  /** Bytes per second moved over the last beat. */
  rateUp: number;
  rateDown: number;
  /** Whether the node's share of the limit held a connection back (it wants more). */
  hungryUp: boolean;
  hungryDown: boolean;
  /**
   * The addresses (IPv6 /64 as one) this user's tunnels come from on the node, for the device
   * limit (`--max-ips`) across nodes; absent for none.
   */
  sources?: string[];
}

/** Another node's load for one user, as the store reports it. */
export interface PeerLoad extends UserLoad {
  node: string;
  openConns: number;
}

/** What a heartbeat brings back: the other live nodes' loads, and how many nodes are alive. */
export interface Heartbeat {
  peers: PeerLoad[];
  /** Nodes alive, this one included. */
  nodesAlive: number;
}

/** What a node writes every second. */
export interface NodeBeat {
  name: string;
  listen: string;
  version: string;
  /** Unix ms when this run started: tells a restart from another node of the same name. */
  startedAt: number;
  openConns: number;
  rateUp: number;
  rateDown: number;
  /** Users with traffic or open connections on this node. */
  loads: UserLoad[];
  /** Tell the other nodes to beat now ({@linkcode NodeRegistry.onLoad}): its users changed. */
  announce?: boolean;
}

/** A node as `node list` shows it. */
export interface NodeInfo {
  name: string;
  listen: string;
  version: string;
  startedAt: number;
  seenMsAgo: number;
  alive: boolean;
  openConns: number;
  rateUp: number;
  rateDown: number;
  activeUsers: number;
}

/** One user's usage written by one node (node `""`: written by no node, or migrated). */
export interface NodeUsage {
  user: string;
  node: string;
  bytesUp: number;
  bytesDown: number;
  openConns: number;
}

/** What a store shared by many nodes offers besides users (PostgreSQL's). */
export interface NodeRegistry {
  /**
   * Registers a node's run. Returns the other run when a node of that name is alive (beat
   * within {@linkcode NODE_ALIVE_MS}) and is not this run; nothing is written then.
   */
  register(beat: NodeBeat): Promise<{ seenMsAgo: number; startedAt: number } | undefined>;
  /** Writes the beat and returns the loads of the other nodes alive, and their count. */
  heartbeat(beat: NodeBeat): Promise<Heartbeat>;
  /** Every node registered, alive or not, by name. */
  nodes(): Promise<NodeInfo[]>;
  /** Usage per user and node, by user then node. */
  usageByNode(): Promise<NodeUsage[]>;
  /** Calls `listener` whenever a user changes (LISTEN); resolves to the unsubscribe. */
  onChange(listener: () => void): Promise<() => Promise<void>>;
  /**
   * Calls `listener` with the node's name whenever a node's heartbeat announces a change in
   * its users' load (LISTEN); resolves to the unsubscribe.
   */
  onLoad(listener: (node: string) => void): Promise<() => Promise<void>>;
}
