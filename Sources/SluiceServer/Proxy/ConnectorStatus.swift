import Foundation

/// The health and counters of one connector, as the management API shows them
/// (`GET /api/management/connectors/get/<name>`, …). Built by ``UpstreamMirror/status(connector:)``.
public struct ConnectorStatus: Sendable, Codable, Hashable {
    /// The connector's name.
    public var name: String
    /// `healthy` (the last upstream call succeeded), `degraded` (the last call failed but a last good snapshot is
    /// served), `unavailable` (the circuit is open, or a call failed and there is nothing to serve) or `unknown`
    /// (never contacted since start-up and nothing saved).
    public var health: String
    /// The circuit breaker's state: `closed`, `open` or `half-open`.
    public var circuit: String
    /// When the upstream last confirmed the repodata of any subdir (a fetch, a 304 or a 404).
    public var lastRefresh: Date?
    /// The message of the last upstream failure (credential-free), if the last call failed.
    public var lastError: String?
    /// Repodata requests answered from the mirror's records without waiting for the upstream.
    public var metadataHits: Int
    /// Repodata requests that had to wait for the upstream (a first-ever fetch of a subdir).
    public var metadataMisses: Int
    /// Package downloads served from the cache.
    public var packageHits: Int
    /// Package downloads that had to be fetched from the upstream.
    public var packageMisses: Int
    /// The subdirs the upstream has and the mirror holds records for, sorted.
    public var subdirs: [String]

    /// Creates a status; see the properties for what each field means.
    public init(
        name: String, health: String, circuit: String, lastRefresh: Date?, lastError: String?, metadataHits: Int,
        metadataMisses: Int, packageHits: Int, packageMisses: Int, subdirs: [String]
    ) {
        self.name = name
        self.health = health
        self.circuit = circuit
        self.lastRefresh = lastRefresh
        self.lastError = lastError
        self.metadataHits = metadataHits
        self.metadataMisses = metadataMisses
        self.packageHits = packageHits
        self.packageMisses = packageMisses
        self.subdirs = subdirs
    }
}
