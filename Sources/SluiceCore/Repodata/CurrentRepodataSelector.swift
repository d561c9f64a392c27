import Foundation

/// Chooses the records of `current_repodata.json` (see ``RepodataBuilder/currentRepodata(subdir:records:)``).
///
/// Works on indices into the candidate list so that large indexes (450,000 records) do not copy records around.
struct CurrentRepodataSelector {
    struct Candidate {
        let record: PackageRecord
        let version: VersionOrder
        let buildNumber: Int64
        let isNoarch: Bool
        let timestamp: Double
        let hasFeatures: Bool
    }

    let candidates: [Candidate]
    /// name → candidate indices, newest first (conda's `Resolve.version_key`, reversed).
    let groups: [String: [Int]]

    /// - Parameter records: records with unique file names.
    init(records: [PackageRecord]) {
        var condaStems: Set<Substring> = []
        for record in records where record.format == .conda { condaStems.insert(record.filename.dropLast(6)) }
        var candidates: [Candidate] = []
        candidates.reserveCapacity(records.count)
        var groups: [String: [Int]] = [:]
        for record in records {
            if record.format == .tarBz2, condaStems.contains(record.filename.dropLast(8)) { continue }
            guard let version = try? VersionOrder(record.version) else { continue }
            var timestamp = Double(record.fields["timestamp"]?.intValue ?? 0)
            if timestamp > 253_402_300_799 { timestamp /= 1000 }
            groups[record.name, default: []].append(candidates.count)
            candidates.append(
                Candidate(
                    record: record, version: version, buildNumber: record.buildNumber,
                    isNoarch: record.subdir == "noarch", timestamp: timestamp,
                    hasFeatures: Self.isSet(record.fields["features"]) || Self.isSet(record.fields["track_features"])))
        }
        for name in groups.keys {
            groups[name]!.sort { Self.isNewer(candidates[$0], candidates[$1]) }
        }
        self.candidates = candidates
        self.groups = groups
    }

    /// Whether a `features`/`track_features` value is non-empty (conda splits strings on spaces and commas).
    static func isSet(_ value: JSONValue?) -> Bool {
        switch value {
        case .string(let string):
            return string.contains { $0 != " " && $0 != "," }
        case .array(let array):
            return !array.isEmpty
        default:
            return false
        }
    }

    /// conda's version key, descending: version, build number, non-noarch, timestamp, build string.
    static func isNewer(_ lhs: Candidate, _ rhs: Candidate) -> Bool {
        let versionOrder = lhs.version.compare(to: rhs.version)
        if versionOrder != 0 { return versionOrder > 0 }
        if lhs.buildNumber != rhs.buildNumber { return lhs.buildNumber > rhs.buildNumber }
        if lhs.isNoarch != rhs.isNoarch { return !lhs.isNoarch }
        if lhs.timestamp != rhs.timestamp { return lhs.timestamp > rhs.timestamp }
        if lhs.record.build != rhs.record.build { return lhs.record.build > rhs.record.build }
        return lhs.record.filename < rhs.record.filename
    }

    /// Indices of `name`'s candidates whose version matches conda's `name=<version>` (a prefix match).
    func matching(name: String, versionPrefix: VersionOrder) -> [Int] {
        (groups[name] ?? []).filter { candidates[$0].version.starts(with: versionPrefix) }
    }

    /// The chosen records.
    func select() -> [PackageRecord] {
        // Step 2: the newest version of every name.
        var kept = [Bool](repeating: false, count: candidates.count)
        var keptByName: [String: [Int]] = [:]
        for (name, group) in groups {
            guard let newest = group.first else { continue }
            let members = matching(name: name, versionPrefix: candidates[newest].version)
            keptByName[name] = members
            for index in members { kept[index] = true }
        }

        // Step 3: backfill unsatisfied dependencies (one pass over the newest set).
        var expanded = kept
        var expandedByName = keptByName
        var seenSpecs: Set<String> = []
        for index in candidates.indices where kept[index] {
            for dependency in candidates[index].record.depends where seenSpecs.insert(dependency).inserted {
                guard let spec = try? MatchSpec(dependency) else { continue }
                let satisfied = keptByName[spec.name]?.contains { spec.matches(candidates[$0].record) } ?? false
                if satisfied { continue }
                guard let best = groups[spec.name]?.first(where: { spec.matches(candidates[$0].record) }) else {
                    continue
                }
                for match in matching(name: spec.name, versionPrefix: candidates[best].version) where !expanded[match] {
                    expanded[match] = true
                    expandedByName[spec.name, default: []].append(match)
                }
            }
        }

        // Step 4: for names whose kept records have features, the newest feature-less version that is not newer.
        var result = expanded
        for (name, members) in expandedByName where members.contains(where: { candidates[$0].hasFeatures }) {
            guard let latest = members.min(by: { Self.isNewer(candidates[$0], candidates[$1]) }) else { continue }
            let latestVersion = candidates[latest].version
            if let keep = groups[name]?.first(where: {
                candidates[$0].version <= latestVersion && !candidates[$0].hasFeatures
            }) {
                result[keep] = true
            }
        }
        return candidates.indices.filter { result[$0] }.map { candidates[$0].record }
    }
}
