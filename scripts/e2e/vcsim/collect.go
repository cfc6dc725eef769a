// Command collect starts govmomi's vSphere simulator (vcsim) in process
// with a small HA cluster (three hosts, five VMs, HA restart priorities,
// an anti-affinity rule and a VM-host rule) and prints, on standard
// output, what `govc object.collect -json -type ...` prints for its
// clusters, hosts, VMs, datastores and networks; with the argument
// `rules`, what `govc cluster.rule.ls -l -json` prints.
//
// It builds against Debian's golang-github-vmware-govmomi-dev (govmomi
// 0.24), without modules:
//
//	GOPATH=/usr/share/gocode GO111MODULE=off go build -o collect .
//
// fixtures/import/vsphere/vcsim-*.json are its output; the vSphere
// import test runs it against a fresh simulator when HAPLAN_E2E_VCSIM=1.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func main() {
	m := simulator.VPX()
	m.Host = 0
	m.ClusterHost = 3
	m.Machine = 0
	defer m.Remove()
	check(m.Create())
	s := m.Service.NewServer()
	defer s.Close()
	ctx := context.Background()
	c, err := govmomi.NewClient(ctx, s.URL, true)
	check(err)
	f := find.NewFinder(c.Client, true)
	dc, err := f.DefaultDatacenter(ctx)
	check(err)
	f.SetDatacenter(dc)
	cluster, err := f.ClusterComputeResource(ctx, "*")
	check(err)
	hosts, err := f.HostSystemList(ctx, "*")
	check(err)
	pool, err := cluster.ResourcePool(ctx)
	check(err)
	folders, err := dc.Folders(ctx)
	check(err)
	ds, err := f.DefaultDatastore(ctx)
	check(err)

	// Hosts of 64 GiB, 16 cores at 2400 MHz.
	for _, h := range hosts {
		hs := simulator.Map.Get(h.Reference()).(*simulator.HostSystem)
		hs.Summary.Hardware.MemorySize = 64 << 30
		hs.Summary.Hardware.NumCpuCores = 16
		hs.Summary.Hardware.NumCpuThreads = 32
		hs.Summary.Hardware.CpuMhz = 2400
	}

	type vmSpec struct {
		name   string
		host   int
		mb     int64
		cpus   int32
		memRes int64
		cpuRes int64
	}
	specs := []vmSpec{
		{"db1", 0, 16384, 8, 16384, 4000},
		{"db2", 1, 16384, 8, 16384, 4000},
		{"web1", 0, 8192, 4, 0, 0},
		{"web2", 1, 8192, 4, 0, 0},
		{"batch", 2, 32768, 8, 0, 0},
	}
	vms := map[string]*object.VirtualMachine{}
	for _, v := range specs {
		spec := types.VirtualMachineConfigSpec{
			Name:             v.name,
			GuestId:          string(types.VirtualMachineGuestOsIdentifierOtherGuest),
			MemoryMB:         v.mb,
			NumCPUs:          v.cpus,
			Files:            &types.VirtualMachineFileInfo{VmPathName: fmt.Sprintf("[%s]", ds.Name())},
			MemoryAllocation: &types.ResourceAllocationInfo{Reservation: types.NewInt64(v.memRes)},
			CpuAllocation:    &types.ResourceAllocationInfo{Reservation: types.NewInt64(v.cpuRes)},
		}
		task, err := folders.VmFolder.CreateVM(ctx, spec, pool, hosts[v.host])
		check(err)
		info, err := task.WaitForResult(ctx, nil)
		check(err)
		vm := object.NewVirtualMachine(c.Client, info.Result.(types.ManagedObjectReference))
		task, err = vm.PowerOn(ctx)
		check(err)
		check(task.Wait(ctx))
		vms[v.name] = vm
	}

	// HA: the percentage policy for one host failure, with 20 % of
	// performance degradation tolerated; per-VM priorities; DRS rules.
	cc := simulator.Map.Get(cluster.Reference()).(*simulator.ClusterComputeResource)
	cfg := cc.ConfigurationEx.(*types.ClusterConfigInfoEx)
	cfg.DasConfig = types.ClusterDasConfigInfo{
		Enabled:                 types.NewBool(true),
		AdmissionControlEnabled: types.NewBool(true),
		AdmissionControlPolicy: &types.ClusterFailoverResourcesAdmissionControlPolicy{
			CpuFailoverResourcesPercent:    33,
			MemoryFailoverResourcesPercent: 33,
			FailoverLevel:                  1,
			AutoComputePercentages:         types.NewBool(true),
		},
		DefaultVmSettings: &types.ClusterDasVmSettings{RestartPriority: "medium"},
	}
	ref := func(n string) types.ManagedObjectReference { return vms[n].Reference() }
	spec := &types.ClusterConfigSpecEx{
		DasVmConfigSpec: []types.ClusterDasVmConfigSpec{
			{ArrayUpdateSpec: types.ArrayUpdateSpec{Operation: types.ArrayUpdateOperationAdd},
				Info: &types.ClusterDasVmConfigInfo{Key: ref("db1"), DasSettings: &types.ClusterDasVmSettings{RestartPriority: "highest"}}},
			{ArrayUpdateSpec: types.ArrayUpdateSpec{Operation: types.ArrayUpdateOperationAdd},
				Info: &types.ClusterDasVmConfigInfo{Key: ref("db2"), DasSettings: &types.ClusterDasVmSettings{RestartPriority: "high"}}},
			{ArrayUpdateSpec: types.ArrayUpdateSpec{Operation: types.ArrayUpdateOperationAdd},
				Info: &types.ClusterDasVmConfigInfo{Key: ref("batch"), DasSettings: &types.ClusterDasVmSettings{RestartPriority: "disabled"}}},
		},
		GroupSpec: []types.ClusterGroupSpec{
			{ArrayUpdateSpec: types.ArrayUpdateSpec{Operation: types.ArrayUpdateOperationAdd},
				Info: &types.ClusterVmGroup{ClusterGroupInfo: types.ClusterGroupInfo{Name: "webs"}, Vm: []types.ManagedObjectReference{ref("web1"), ref("web2")}}},
			{ArrayUpdateSpec: types.ArrayUpdateSpec{Operation: types.ArrayUpdateOperationAdd},
				Info: &types.ClusterHostGroup{ClusterGroupInfo: types.ClusterGroupInfo{Name: "front"}, Host: []types.ManagedObjectReference{hosts[0].Reference(), hosts[1].Reference()}}},
		},
		RulesSpec: []types.ClusterRuleSpec{
			{ArrayUpdateSpec: types.ArrayUpdateSpec{Operation: types.ArrayUpdateOperationAdd},
				Info: &types.ClusterAntiAffinityRuleSpec{ClusterRuleInfo: types.ClusterRuleInfo{Name: "dbs-apart", Enabled: types.NewBool(true), Mandatory: types.NewBool(true)}, Vm: []types.ManagedObjectReference{ref("db1"), ref("db2")}}},
			{ArrayUpdateSpec: types.ArrayUpdateSpec{Operation: types.ArrayUpdateOperationAdd},
				Info: &types.ClusterVmHostRuleInfo{ClusterRuleInfo: types.ClusterRuleInfo{Name: "webs-front", Enabled: types.NewBool(true), Mandatory: types.NewBool(true)}, VmGroupName: "webs", AffineHostGroupName: "front"}},
		},
	}
	task, err := cluster.Reconfigure(ctx, spec, true)
	check(err)
	check(task.Wait(ctx))

	out := json.NewEncoder(os.Stdout)
	collect := func(kinds []string, props []string) {
		v, err := view.NewManager(c.Client).CreateContainerView(ctx, c.ServiceContent.RootFolder, kinds, true)
		check(err)
		defer v.Destroy(ctx)
		filter := new(property.WaitFilter)
		for _, k := range kinds {
			filter.Add(v.Reference(), k, props, v.TraversalSpec())
		}
		pc := property.DefaultCollector(c.Client)
		req := types.RetrieveProperties{SpecSet: []types.PropertyFilterSpec{filter.Spec}}
		res, err := pc.RetrieveProperties(ctx, req)
		check(err)
		for _, oc := range res.Returnval {
			// govc prints each object as an ObjectUpdate.
			u := types.ObjectUpdate{Kind: types.ObjectUpdateKindEnter, Obj: oc.Obj}
			for _, p := range oc.PropSet {
				u.ChangeSet = append(u.ChangeSet, types.PropertyChange{Name: p.Name, Op: types.PropertyChangeOpAssign, Val: p.Val})
			}
			check(out.Encode(u))
		}
	}
	if len(os.Args) > 1 && os.Args[1] == "rules" {
		var cl mo.ClusterComputeResource
		check(cluster.Properties(ctx, cluster.Reference(), []string{"configurationEx"}, &cl))
		var names []string
		for _, r := range cl.ConfigurationEx.(*types.ClusterConfigInfoEx).Rule {
			names = append(names, fmt.Sprintf("%s (%s)", r.GetClusterRuleInfo().Name, reflect.TypeOf(r).Elem().Name()))
		}
		check(out.Encode(names))
		return
	}
	collect([]string{"ClusterComputeResource"}, []string{"name", "host", "configurationEx"})
	collect([]string{"HostSystem"}, []string{"name", "summary.hardware", "runtime", "datastore", "network"})
	collect([]string{"VirtualMachine"}, []string{"name", "runtime.host", "runtime.powerState", "config.hardware.memoryMB", "config.hardware.numCPU", "config.memoryAllocation", "config.cpuAllocation", "config.template", "datastore", "network"})
	collect([]string{"Datastore", "Network"}, []string{"name"})
}
