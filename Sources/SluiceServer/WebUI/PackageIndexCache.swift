import Foundation
import SluiceCore

/// One file of a subdir as the web UI lists it.
struct PackageIndexEntry: Sendable {
    /// Where the bytes come from: a package row of the feed, or only an upstream (a proxy feed's connector).
    enum Source: Sendable, Hashable {
        case local
        case upstream(connector: String)
    }

    var subdir: String
    var record: PackageRecord
    var source: Source
    var filename: String { record.filename }
}

/// The files of one published subdir grouped by package name, names sorted. A name's files are sorted (with
/// ``newestFirst(_:)``) only when shown: a page shows 50 names, so sorting every name's versions up front would be
/// wasted work on a subdir of conda-forge size.
struct SubdirPackageIndex: Sendable {
    /// Package names in ascending byte order.
    let names: [String]
    /// Name → files, in no particular order.
    let files: [String: [PackageIndexEntry]]
    /// Which snapshot this index is of: subdir, build time and `repodata.json` ETag.
    let identity: String

    /// Groups `served`'s records by name and sorts the names, once per snapshot.
    init(served: ServedSubdir, subdir: String) {
        var files: [String: [PackageIndexEntry]] = [:]
        for (filename, record) in served.snapshot.records {
            let source: PackageIndexEntry.Source =
                if served.packages[filename] == nil, let upstream = served.upstreamPackages[filename] {
                    .upstream(connector: upstream.connector)
                } else {
                    .local
                }
            files[record.name, default: []].append(PackageIndexEntry(subdir: subdir, record: record, source: source))
        }
        self.files = files
        self.names = files.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        self.identity =
            "\(subdir)|\(served.snapshot.builtAt.timeIntervalSince1970)|"
            + (served.snapshot.files["repodata.json"]?.etag ?? "")
    }

    /// The names of `names` that contain `search` (case-insensitively): the exact match first, then names that start
    /// with it, then the rest, each in the given order. All of `names` when `search` is empty.
    static func matching(_ names: [String], search: String) -> [String] {
        let search = search.lowercased()
        guard !search.isEmpty else { return names }
        var exact: [String] = []
        var prefixed: [String] = []
        var containing: [String] = []
        for name in names {
            let lowered = name.lowercased()
            if lowered == search {
                exact.append(name)
            } else if lowered.hasPrefix(search) {
                prefixed.append(name)
            } else if lowered.contains(search) {
                containing.append(name)
            }
        }
        return exact + prefixed + containing
    }

    /// Sorts files newest version first; versions conda cannot parse sort after those it can, by text.
    static func newestFirst(_ entries: [PackageIndexEntry]) -> [PackageIndexEntry] {
        var orders: [String: VersionOrder] = [:]
        for entry in entries where orders[entry.record.version] == nil {
            if let order = try? VersionOrder(entry.record.version) { orders[entry.record.version] = order }
        }
        return entries.sorted { lhs, rhs in
            let left = orders[lhs.record.version]
            let right = orders[rhs.record.version]
            switch (left, right) {
            case (let left?, let right?) where left != right: return left > right
            case (.some, nil): return true
            case (nil, .some): return false
            case (nil, nil) where lhs.record.version != rhs.record.version:
                return lhs.record.version > rhs.record.version
            default:
                if lhs.record.buildNumber != rhs.record.buildNumber {
                    return lhs.record.buildNumber > rhs.record.buildNumber
                }
                return lhs.filename < rhs.filename
            }
        }
    }
}

/// Remembers the ``SubdirPackageIndex`` of each published subdir for as long as that snapshot is live, so that
/// paging and searching a proxy feed of conda-forge size sorts its records once per snapshot, not once per request.
///
/// A snapshot is recognised by its build time and the ETag of its `repodata.json`; when the publisher swaps in a new
/// one the next request builds its index (concurrent requests for the same snapshot share one build).
actor PackageIndexCache {
    private struct Key: Hashable {
        var feed: String
        var subdir: String
    }

    private struct Entry {
        var builtAt: Date
        var etag: String
        var index: Task<SubdirPackageIndex, Never>
    }

    private var entries: [Key: Entry] = [:]
    /// The sorted union of names of several indexes (a feed's "all subdirs" list), by their identities.
    private var merged: [String: [String]] = [:]
    /// How many merged lists are kept; past it the cache starts over.
    static let mergedLimit = 32

    /// The index of `served` (the live snapshot of `subdir` in `feed`).
    func index(feed: String, subdir: String, served: ServedSubdir) async -> SubdirPackageIndex {
        let key = Key(feed: feed, subdir: subdir)
        let etag = served.snapshot.files["repodata.json"]?.etag ?? ""
        if let entry = entries[key], entry.builtAt == served.snapshot.builtAt, entry.etag == etag {
            return await entry.index.value
        }
        let task = Task.detached(priority: .userInitiated) { SubdirPackageIndex(served: served, subdir: subdir) }
        entries[key] = Entry(builtAt: served.snapshot.builtAt, etag: etag, index: task)
        return await task.value
    }

    /// The sorted union of the package names of `indexes`, computed once per combination of snapshots.
    func names(of indexes: [SubdirPackageIndex]) -> [String] {
        if indexes.count == 1 { return indexes[0].names }
        let key = indexes.map(\.identity).joined(separator: "\n")
        if let names = merged[key] { return names }
        var all = Set<String>()
        for index in indexes { all.formUnion(index.names) }
        let names = all.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        if merged.count >= Self.mergedLimit { merged.removeAll() }
        merged[key] = names
        return names
    }

    /// Drops the indexes of `feed` (after it was deleted).
    func forget(feed: String) {
        entries = entries.filter { $0.key.feed != feed }
    }
}
