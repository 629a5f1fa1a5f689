namespace OrthancWeb.Tests.Scripting;

/// <summary>
/// The scripts the tests install, in the shape of Orthanc's own samples (OrthancServer/Resources/Samples/Lua and the
/// Orthanc Book's Lua page): the same callbacks, the same functions called the same way (origin['RequestOrigin'],
/// Delete(SendToModality(...)), RestApiPost of a modified file to '/instances/', DumpJson(command, true)...), written
/// here rather than copied. Nothing in them is specific to this server.
/// </summary>
public static class LuaScripts
{
    /// <summary>Filtering by calling AE (installed from LuaScripts at start-up).</summary>
    public const string FilterByCallingAet = """
        -- Discard what the untrusted modality sends: Orthanc still answers it Success, and stores nothing.
        function ReceivedInstanceFilter(dicom, origin, info)
           if origin['RequestOrigin'] == 'DicomProtocol' and origin['RemoteAet'] == 'UNTRUSTED' then
              return false
           end
           return true
        end

        -- Refuse what another modality sends, with an explicit failure status (0xA700, Out of Resources).
        function ReceivedCStoreInstanceFilter(dicom, origin, info)
           if origin['RemoteAet'] == 'REFUSED' then
              return 0xA700
           end
           return 0
        end
        """;

    /// <summary>Auto-routing: by patient name, sent to the modality "sample", then deleted here (the conditional sample's shape).</summary>
    public const string AutoRouting = """
        function OnStoredInstance(instanceId, tags, metadata, origin)
           PrintRecursive(origin)
           local name = string.lower(tags['PatientName'])
           if string.find(name, 'routeme', 1, true) ~= nil then
              -- Send, then remove the local copy
              Delete(SendToModality(instanceId, 'sample'))
           end
        end

        function OnJobSuccess(jobId)
           print('Lua job succeeded: ' .. jobId)
        end

        function OnDeletedInstance(instanceId)
           print('Lua saw the deletion of ' .. instanceId)
        end
        """;

    /// <summary>Anonymize on arrival: the anonymized copy replaces the original; the copy (origin Lua) is left alone.</summary>
    public const string AnonymizeOnArrival = """
        function OnStoredInstance(instanceId, tags, metadata, origin)
           -- Our own uploads come back here with origin Lua: skip them, or this would never end
           if origin['RequestOrigin'] ~= 'Lua' then
              local command = {}
              command['Replace'] = { PatientName = 'Anonymized by Lua' }
              command['Keep'] = { 'StudyDescription' }
              local anonymized = RestApiPost('/instances/' .. instanceId .. '/anonymize', DumpJson(command, true))
              local anonymizedId = ParseJson(RestApiPost('/instances/', anonymized))['ID']
              print('Lua anonymized ' .. instanceId .. ' as ' .. anonymizedId)
              RestApiDelete('/instances/' .. instanceId)
           end
        end
        """;

    /// <summary>A callback that fails for one patient and is slow (3 s) for another: neither may cost an instance.</summary>
    public const string FailingAndSlow = """
        function OnStoredInstance(instanceId, tags, metadata, origin)
           if tags['PatientID'] == 'LUATHROWS' then
              error('this script fails on purpose')
           end
           if tags['PatientID'] == 'LUASLOW' then
              local start = os.time()
              while os.time() - start < 3 do end
              print('Lua finished slowly with ' .. instanceId)
           end
        end
        """;

    /// <summary>
    /// OnUpdated* (a user metadata or attachment written), OnHeartBeat, and CallSystem from OnStoredInstance (the
    /// callback Orthanc 1.10 allows operations in), chained to the OnStoredInstance loaded before it. The copy folder
    /// replaces {folder}.
    /// </summary>
    public const string UpdatedHeartBeatAndSystem = """
        function OnUpdatedInstance(instanceId) print('Lua updated instance ' .. instanceId) end
        function OnUpdatedSeries(seriesId) print('Lua updated series ' .. seriesId) end

        local beats = 0
        function OnHeartBeat()
           beats = beats + 1
           print('Lua heart beat ' .. beats)
        end

        local before = OnStoredInstance
        function OnStoredInstance(instanceId, tags, metadata, origin)
           if tags['PatientID'] == 'LUASYSTEM' then
              -- The file's path comes after the arguments: it is $0 of the shell's script.
              CallSystem(instanceId, '/bin/sh', { '-c', 'cp "$0" "{folder}/' .. instanceId .. '.dcm"' })
           else
              before(instanceId, tags, metadata, origin)
           end
        end
        """;

    /// <summary>Initialize, once the server answers: the REST API is there to call.</summary>
    public const string Startup = """
        function Initialize()
           local system = ParseJson(RestApiGet('/system'))
           print('Lua initialized against API version ' .. system['ApiVersion'])
        end
        """;

    /// <summary>IncomingHttpRequestFilter: no DELETE over HTTP (Orthanc's access-control sample's shape).</summary>
    public const string NoHttpDelete = """
        function IncomingHttpRequestFilter(method, uri, ip, username, httpHeaders)
           if method == 'DELETE' then
              return false
           end
           return true
        end
        """;
}
