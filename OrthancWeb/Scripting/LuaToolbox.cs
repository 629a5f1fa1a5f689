namespace OrthancWeb.Scripting;

/// <summary>
/// The part of Orthanc's scripting API written in Lua itself, loaded before the configured scripts: PrintRecursive,
/// the error-raising wrappers of the C# functions (see <see cref="LuaState"/>), and the "operations" of Orthanc's Lua
/// job manager (SendToModality, SendToPeer, Delete, ModifyInstance, CallSystem), which a callback queues and the server then runs
/// in order as one job once the callback has returned, never under the Lua lock.
/// </summary>
internal static class LuaToolbox
{
    public const string Source = """
        local function raising(native)
          return function(...)
            local result, problem = native(...)
            if problem ~= nil then error(problem, 2) end
            return result
          end
        end

        ParseJson = raising(_ParseJson)
        DumpJson = raising(_DumpJson)
        GenerateDicomUid = raising(_GenerateDicomUid)
        SetHttpTimeout = raising(_SetHttpTimeout)

        -- Orthanc's layout: "table", then one line per entry, "[key], type, value", nested entries prefixed by their path.
        local function printEntries(t, prefix)
          for key, value in pairs(t) do
            if type(value) == 'table' then
              print(prefix .. '[' .. tostring(key) .. '], table')
              printEntries(value, prefix .. '[' .. tostring(key) .. ']\t')
            else
              print(prefix .. '[' .. tostring(key) .. '], ' .. type(value) .. ', ' .. tostring(value))
            end
          end
        end

        function PrintRecursive(value)
          if type(value) == 'table' then
            print('table')
            printEntries(value, '\t')
          else
            print(type(value) .. ', ' .. tostring(value))
          end
        end

        -- The operations a callback queues; an empty resource means "the result of the previous operation".
        _job = {}

        function _InitializeJob()
          _job = {}
        end

        function _AccessJob()
          return _job
        end

        function SendToModality(resourceId, modality, localAet, timeout)
          if resourceId == nil then error('Cannot send an inexistent resource') end
          table.insert(_job, { Operation = 'store-scu', Resource = resourceId, Modality = modality, LocalAet = localAet, Timeout = timeout })
          return resourceId
        end

        function SendToPeer(resourceId, peer)
          if resourceId == nil then error('Cannot send an inexistent resource') end
          table.insert(_job, { Operation = 'store-peer', Resource = resourceId, Peer = peer })
          return resourceId
        end

        function Delete(resourceId)
          if resourceId == nil then error('Cannot delete an inexistent resource') end
          table.insert(_job, { Operation = 'delete', Resource = resourceId })
          return nil
        end

        function ModifyInstance(resourceId, replacements, removals, removePrivateTags)
          if resourceId == nil then error('Cannot modify an inexistent instance') end
          table.insert(_job, { Operation = 'modify', Resource = resourceId, Replace = replacements, Remove = removals,
                               RemovePrivateTags = removePrivateTags })
          return ''
        end

        -- Runs a program on a copy of the instance's file, its path after the arguments (instances only).
        function CallSystem(resourceId, command, args)
          if resourceId == nil then error('Cannot execute a system call on a nonexistent resource') end
          if command == nil then error('No command was specified for system call') end
          table.insert(_job, { Operation = 'call-system', Resource = resourceId, Command = command, Arguments = args })
          return resourceId
        end
        """;
}
