import Foundation

/// Chooses the records of `current_repodata.json` (see ``RepodataBuilder/currentRepodata(subdir:records:)``).
///
/// Works on indices into the record table, with each distinct version string parsed once and ranked once, so that
/// large indexes (450,000 records) neither copy records around nor compare parsed versions in their sorts.
struct CurrentRepodataSelector {
    let records: [PackageRecord]
    /// Candidate → index into ``records``.
    private var candidateRecord: [Int] = []
    /// Candidate → dense rank of its version among all distinct versions (equal versions share a rank).
    private var rank: [Int32] = []
    /// Candidate → index into ``versions``.
    private var versionID: [Int32] = []
    private var buildNumber: [Int64] = []
    private var isNoarch: [Bool] = []
    private var timestamp: [Double] = []
    private var hasFeatures: [Bool] = []
    /// Distinct version strings, parsed (nil where conda cannot parse it; no candidate refers to those).
    private var versions: [VersionOrder?] = []
    /// name → candidate indices, newest first (conda's `Resolve.version_key`, reversed).
    private var groups: [String: [Int]] = [:]
    /// Index of a `.conda` record → the md5 of its `.tar.bz2` twin (`null` when the twin has none).
    private(set) var legacyMD5: [Int: JSONValue] = [:]

    init(table: RecordTable) {
        records = table.records
        // Like conda: every .conda, and only those .tar.bz2 without a .conda twin.
        var tarByStem: [Substring: Int] = Dictionary(minimumCapacity: table.tarBz2.count)
        for index in table.tarBz2 { tarByStem[records[index].filename.dropLast(8)] = index }
        var shadowed = Set<Int>()
        for index in table.conda {
            if let twin = tarByStem[records[index].filename.dropLast(6)] {
                shadowed.insert(twin)
                legacyMD5[index] = records[twin].fields["md5"] ?? .null
            }
        }

        var versionIDs: [String: Int32] = [:]
        var parsed: [VersionOrder?] = []
        for (index, record) in records.enumerated() {
            if record.format == .tarBz2, shadowed.contains(index) { continue }
            let versionString = record.version
            let id: Int32
            if let known = versionIDs[versionString] {
                id = known
            } else {
                id = Int32(parsed.count)
                parsed.append(try? VersionOrder(versionString))
                versionIDs[versionString] = id
            }
            guard parsed[Int(id)] != nil else { continue }
            var time = Double(record.fields["timestamp"]?.intValue ?? 0)
            if time > 253_402_300_799 { time /= 1000 }
            groups[record.name, default: []].append(candidateRecord.count)
            candidateRecord.append(index)
            versionID.append(id)
            buildNumber.append(record.buildNumber)
            isNoarch.append(record.subdir == "noarch")
            timestamp.append(time)
            hasFeatures.append(Self.isSet(record.fields["features"]) || Self.isSet(record.fields["track_features"]))
        }

        // Rank the distinct versions once; the sorts below compare integers.
        versions = parsed
        var ordered = Array(parsed.indices.filter { parsed[$0] != nil })
        ordered.sort { parsed[$0]! < parsed[$1]! }
        var rankOfID = [Int32](repeating: 0, count: parsed.count)
        var current: Int32 = 0
        for (position, id) in ordered.enumerated() {
            if position > 0, parsed[ordered[position - 1]]! != parsed[id]! { current += 1 }
            rankOfID[id] = current
        }
        rank = versionID.map { rankOfID[Int($0)] }

        // Sort each group on a compact copy of the keys (no array lookups through self in the comparator).
        struct SortKey {
            var rank: Int32
            var isNoarch: Bool
            var buildNumber: Int64
            var timestamp: Double
            var candidate: Int
        }
        var sorted = groups
        groups = [:]
        var keys: [SortKey] = []
        for name in sorted.keys {
            keys.removeAll(keepingCapacity: true)
            for candidate in sorted[name]! {
                keys.append(
                    SortKey(
                        rank: rank[candidate], isNoarch: isNoarch[candidate], buildNumber: buildNumber[candidate],
                        timestamp: timestamp[candidate], candidate: candidate))
            }
            keys.sort { lhs, rhs in
                if lhs.rank != rhs.rank { return lhs.rank > rhs.rank }
                if lhs.buildNumber != rhs.buildNumber { return lhs.buildNumber > rhs.buildNumber }
                if lhs.isNoarch != rhs.isNoarch { return !lhs.isNoarch }
                if lhs.timestamp != rhs.timestamp { return lhs.timestamp > rhs.timestamp }
                return isNewer(lhs.candidate, rhs.candidate)
            }
            sorted[name] = keys.map(\.candidate)
        }
        groups = sorted
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
    private func isNewer(_ lhs: Int, _ rhs: Int) -> Bool {
        if rank[lhs] != rank[rhs] { return rank[lhs] > rank[rhs] }
        if buildNumber[lhs] != buildNumber[rhs] { return buildNumber[lhs] > buildNumber[rhs] }
        if isNoarch[lhs] != isNoarch[rhs] { return !isNoarch[lhs] }
        if timestamp[lhs] != timestamp[rhs] { return timestamp[lhs] > timestamp[rhs] }
        let left = records[candidateRecord[lhs]]
        let right = records[candidateRecord[rhs]]
        if left.build != right.build { return left.build > right.build }
        return left.filename < right.filename
    }

    private func record(_ candidate: Int) -> PackageRecord { records[candidateRecord[candidate]] }

    /// `name`'s candidates whose version matches conda's `name=<version of candidate>` (a prefix match).
    private func matching(name: String, versionOf candidate: Int) -> [Int] {
        guard let prefix = versions[Int(versionID[candidate])] else { return [] }
        var cache: [Int32: Bool] = [:]
        return (groups[name] ?? []).filter { member in
            let id = versionID[member]
            if let known = cache[id] { return known }
            let result = versions[Int(id)]?.starts(with: prefix) ?? false
            cache[id] = result
            return result
        }
    }

    /// The chosen records, as a mask over ``records``.
    func select() -> [Bool] {
        let count = candidateRecord.count
        // Step 2: the newest version of every name.
        var kept = [Bool](repeating: false, count: count)
        var keptByName: [String: [Int]] = [:]
        for (name, group) in groups {
            guard let newest = group.first else { continue }
            let members = matching(name: name, versionOf: newest)
            keptByName[name] = members
            for index in members { kept[index] = true }
        }

        // Step 3: backfill unsatisfied dependencies (one pass over the newest set).
        var expanded = kept
        var expandedByName = keptByName
        var seenSpecs: Set<String> = []
        for index in 0..<count where kept[index] {
            for dependency in record(index).depends where seenSpecs.insert(dependency).inserted {
                guard let spec = try? MatchSpec(dependency) else { continue }
                let satisfied = keptByName[spec.name]?.contains { spec.matches(record($0)) } ?? false
                if satisfied { continue }
                guard let best = groups[spec.name]?.first(where: { spec.matches(record($0)) }) else {
                    continue
                }
                for match in matching(name: spec.name, versionOf: best) where !expanded[match] {
                    expanded[match] = true
                    expandedByName[spec.name, default: []].append(match)
                }
            }
        }

        // Step 4: for names whose kept records have features, the newest feature-less version that is not newer.
        var result = expanded
        for (name, members) in expandedByName where members.contains(where: { hasFeatures[$0] }) {
            guard let latest = members.min(by: { isNewer($0, $1) }) else { continue }
            if let keep = groups[name]?.first(where: { rank[$0] <= rank[latest] && !hasFeatures[$0] }) {
                result[keep] = true
            }
        }
        var mask = [Bool](repeating: false, count: records.count)
        for candidate in 0..<count where result[candidate] { mask[candidateRecord[candidate]] = true }
        return mask
    }
}
