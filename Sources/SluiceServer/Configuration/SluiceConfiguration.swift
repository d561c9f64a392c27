import Foundation
import SluiceCore

/// Every setting of a Sluice server, in one model.
///
/// Values come from, in order of precedence: command-line flags (``Overrides``), environment variables
/// (`SLUICE_HOST`, `SLUICE_PORT`, `SLUICE_DATA_DIR`, `SLUICE_CONFIG`, `SLUICE_ADMIN_PASSWORD`, and
/// `SLUICE_<SECTION>_<KEY>` for every other key, e.g. `SLUICE_UPLOADS_MAX_SIZE`), a YAML file, and the defaults
/// below. `sluice.example.yml` at the repository root documents every key with its default; a test checks that it
/// parses to exactly ``init()``. Load it with ``load(configFile:environment:overrides:)``.
public struct SluiceConfiguration: Hashable, Sendable {
    /// Where the HTTP server listens.
    public struct Server: Hashable, Sendable {
        /// The address to bind (`server.host`, `SLUICE_HOST`). Default `127.0.0.1`.
        public var host: String = "127.0.0.1"
        /// The TCP port (`server.port`, `SLUICE_PORT`); 0 picks a free port. Default 8624, ProGet's port.
        public var port: Int = 8624

        public init() {}
    }

    /// Where package files and other local state live.
    public struct Storage: Hashable, Sendable {
        /// The data directory (`storage.dataDirectory`, `SLUICE_DATA_DIR`): blobs under `blobs/`, temporary upload
        /// files under `tmp/`, and the SQLite database by default. Default `./sluice-data`.
        public var dataDirectory: String = "./sluice-data"

        public init() {}
    }

    /// The metadata database.
    public struct Database: Hashable, Sendable {
        /// Which database to use (`database.kind`). Only `sqlite` for now.
        public var kind: String = "sqlite"
        /// The SQLite file (`database.sqliteFile`); nil means `<dataDirectory>/sluice.sqlite`.
        public var sqliteFile: String? = nil

        public init() {}
    }

    /// Limits on package uploads.
    public struct Uploads: Hashable, Sendable {
        /// The largest accepted package file in bytes (`uploads.maxSize`; in the file also `500MiB`, `2GiB`, ...).
        /// Larger uploads get 413. Default 2 GiB.
        public var maxSize: Int64 = 2 << 30

        public init() {}
    }

    /// How the conda channel is served.
    public struct Channel: Hashable, Sendable {
        /// `Cache-Control: max-age` of repodata files, in seconds (`channel.repodataMaxAge`). Default 60.
        public var repodataMaxAge: Int = 60
        /// The zstd level of `repodata.json.zst` (`channel.zstdLevel`, 1–22). Default 16.
        public var zstdLevel: Int = 16
        /// Whether `.json` files are gzip-compressed for clients that offer it (`channel.gzipJSON`). Default true.
        public var gzipJSON: Bool = true
        /// Whether CEP 16 sharded repodata (`<subdir>/repodata_shards.msgpack.zst` and
        /// `<subdir>/shards/<sha256>.msgpack.zst`) is served for every subdir of every feed (`channel.serveShards`).
        /// When false those paths are 404s and clients fall back to `repodata.json`. Default true.
        public var serveShards: Bool = true
        /// How many days a superseded shard stays downloadable after the last time an index naming it was served
        /// (`channel.shardRetentionDays`, at least 1). Default 7 (CEP 16 asks for at least a week).
        public var shardRetentionDays: Int = 7

        public init() {}
    }

    /// The built-in `Admin` account.
    public struct Admin: Hashable, Sendable {
        /// The password given to `Admin` when the user is created on first start. Only from the environment
        /// (`SLUICE_ADMIN_PASSWORD`), never from the file; when nil a password is generated and logged once.
        public var initialPassword: String? = nil

        public init() {}
    }

    /// Vulnerability data (`compliance.*`).
    public struct Compliance: Hashable, Sendable {
        /// An OSV JSON file or zip (e.g. an internal mirror of `https://osv-vulnerabilities.storage.googleapis.com/
        /// PyPI/all.zip`) imported every ``pollMinutes`` (`compliance.advisoryURL`). Default nil: no polling.
        public var advisoryURL: String? = nil
        /// Minutes between two polls of ``advisoryURL`` (`compliance.pollMinutes`); 0 turns polling off. Default 0.
        public var pollMinutes: Int = 0

        public init() {}
    }

    /// Values given on the command line; they win over everything else.
    public struct Overrides: Hashable, Sendable {
        public var host: String?
        public var port: Int?
        public var dataDirectory: String?

        public init(host: String? = nil, port: Int? = nil, dataDirectory: String? = nil) {
            self.host = host
            self.port = port
            self.dataDirectory = dataDirectory
        }
    }

    public var server = Server()
    public var storage = Storage()
    public var database = Database()
    public var uploads = Uploads()
    public var channel = Channel()
    public var admin = Admin()
    public var compliance = Compliance()

    /// The defaults.
    public init() {}

    /// The data directory as a URL (relative paths resolve against the current directory).
    public var dataDirectoryURL: URL {
        URL(fileURLWithPath: storage.dataDirectory, isDirectory: true).standardizedFileURL
    }

    /// The SQLite file: `database.sqliteFile`, else `<dataDirectory>/sluice.sqlite`.
    public var sqliteFileURL: URL {
        if let file = database.sqliteFile {
            return URL(fileURLWithPath: file).standardizedFileURL
        }
        return dataDirectoryURL.appendingPathComponent("sluice.sqlite")
    }
}
